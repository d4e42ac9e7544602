/** Taking the caller's own labels out must hide exactly those, never a label naming someone else. */
import { describe, expect, it } from 'vitest';
import { OWNER_LABEL, STAGING_LABEL } from '../../../concierge/dockerproxy/aware/caller.js';
import { withoutOwnerLabels } from './owner-labels.js';

const owner = { id: 'compat-c1f2e3', stagingDir: '/tmp/compat-1f2e3-workload/staging' };
const staged = `${owner.stagingDir}/${owner.id}/0b7c`;

describe('withoutOwnerLabels', () => {
  it('removes the caller\'s owner label and its staging list, wherever labels sit', () => {
    const out = withoutOwnerLabels(
      { Config: { Labels: { compat: 'yes', [OWNER_LABEL]: owner.id, [STAGING_LABEL]: `${staged},${staged}x` } }, listed: [{ Labels: { [OWNER_LABEL]: owner.id } }] },
      owner,
    );
    expect(out).toEqual({ Config: { Labels: { compat: 'yes' } }, listed: [{ Labels: {} }] });
  });

  it('keeps an owner label naming another caller, and staging paths outside the caller\'s area', () => {
    const foreign = { Labels: { [OWNER_LABEL]: 'compat-c999999', [STAGING_LABEL]: '/tmp/elsewhere/x' } };
    expect(withoutOwnerLabels(foreign, owner)).toEqual(foreign);
  });

  it('leaves strings alone (a label in text output stays a difference)', () => {
    const text = `${OWNER_LABEL}=${owner.id}`;
    expect(withoutOwnerLabels({ stdout: text }, owner)).toEqual({ stdout: text });
  });
});
