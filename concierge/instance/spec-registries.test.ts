import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { registriesAt } from './spec-registries.js';
import { validateSpec } from './spec.js';

const parseRegistrySettings = (value: unknown) => registriesAt(value, 'spec.registries');

describe('registries settings', () => {
  it('keeps the password out of every printed or serialized form', () => {
    const settings = parseRegistrySettings({ 'reg.test:5000': { username: 'ci', password: 'hunter2', mirrors: ['mirror.test'] } });
    const entry = settings.get('reg.test:5000')!;
    expect(entry.mirrors).toEqual(['https://mirror.test']);
    expect(entry.credentials?.basic()).toBe(`Basic ${Buffer.from('ci:hunter2').toString('base64')}`);
    for (const text of [JSON.stringify(entry), inspect(entry, { depth: 5 }), inspect(settings, { depth: 5 }), `${inspect(entry.credentials)}`]) {
      expect(text).not.toContain('hunter2');
    }
  });

  it.each([
    [{ 'reg.test': { username: 'ci' } }, /username and password go together/],
    [{ 'reg.test': { ca: 'not pem' } }, /PEM/],
    [{ 'reg.test': { mirrors: ['ftp://m'] } }, /http\(s\) origin/],
    [{ 'reg.test': { mirrors: ['https://m/path'] } }, /without path/],
    [{ 'reg.test': { insecure: 'yes' } }, /insecure/],
    [{ 'reg.test': { token: 'x' } }, /unknown field "token"/],
    [{ 'not a host': {} }, /not a registry host/],
  ])('refuses %j', (input, message) => expect(() => parseRegistrySettings(input)).toThrow(message));
});

it('is a section of the instance spec', () => {
  expect(validateSpec({ registries: { 'reg.test': { insecure: true } } }).registries.get('reg.test')).toEqual({ insecure: true, mirrors: [] });
  expect(validateSpec({}).registries.size).toBe(0);
  expect(() => validateSpec({ registries: { 'reg.test': { username: 'a', password: 7 } } })).toThrow(/spec.registries\["reg.test"\].password: expected a string/);
});
