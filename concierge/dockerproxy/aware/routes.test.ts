import { describe, expect, it } from 'vitest';
import { OWNER_LABEL } from './caller.js';
import { firstValue, parseQuery, type Values } from '../gohttp/url.js';
import { withOwnerFilter as withOwnerFilterOf } from './routes.js';

/** The parameters of a raw query with the owner filter added. */
function withOwnerFilter(target: string, owner: string): Values {
  return withOwnerFilterOf(parseQuery(target.split('?')[1] ?? '').values, owner);
}

function filtersOf(form: Values): Record<string, unknown> {
  return JSON.parse(firstValue(form, 'filters')) as Record<string, unknown>;
}

/**
 * dockerd decodes `filters` either as {"key": {"value": true}} or, for old clients (docker-py,
 * compose v1), as {"key": ["value"]}; never a mix of the two in one document.
 */
function oneForm(filters: Record<string, unknown>): boolean {
  const values = Object.values(filters);
  return values.every((v) => Array.isArray(v)) || values.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v));
}

describe('withOwnerFilter', () => {
  it('adds the owner label with no filters, keeping the other parameters', () => {
    const out = withOwnerFilter('/v1.41/containers/json?all=1', 'job-1');
    expect(firstValue(out, 'all')).toBe('1');
    expect(filtersOf(out)).toEqual({ label: { [`${OWNER_LABEL}=job-1`]: true } });
  });

  it('keeps the client filters of the map form and adds the owner to its labels', () => {
    const filters = encodeURIComponent(JSON.stringify({ name: { web: true }, label: { 'a=b': true } }));
    const out = filtersOf(withOwnerFilter(`/containers/json?filters=${filters}`, 'job-1'));
    expect(out).toEqual({ name: { web: true }, label: { 'a=b': true, [`${OWNER_LABEL}=job-1`]: true } });
  });

  it('cannot be widened by a client owner label of another caller: both labels must match', () => {
    const filters = encodeURIComponent(JSON.stringify({ label: { [`${OWNER_LABEL}=other`]: true } }));
    const out = filtersOf(withOwnerFilter(`/containers/json?filters=${filters}`, 'job-1'));
    expect(out.label).toEqual({ [`${OWNER_LABEL}=other`]: true, [`${OWNER_LABEL}=job-1`]: true });
  });

  it('writes the legacy list form back in one form dockerd can decode', () => {
    const filters = encodeURIComponent(JSON.stringify({ name: ['web'], label: ['a=b'] }));
    const out = filtersOf(withOwnerFilter(`/containers/json?filters=${filters}`, 'job-1'));
    expect(oneForm(out), JSON.stringify(out)).toBe(true);
  });

  it('leaves exactly one filters value: dockerd reads the first, so a second cannot widen the list', () => {
    const other = encodeURIComponent(JSON.stringify({ label: { 'x=y': true } }));
    const out = withOwnerFilter(`/containers/json?filters=${other}&filters=${other}`, 'job-1');
    expect(out.get('filters')).toHaveLength(1);
  });

  it('refuses filters that are not a JSON object', () => {
    expect(() => withOwnerFilter('/containers/json?filters=nope', 'job-1')).toThrow(/filters/);
    expect(() => withOwnerFilter(`/containers/json?filters=${encodeURIComponent('[1]')}`, 'job-1')).toThrow(/filters/);
  });
});
