/** The normalizer must hide what differs by nature and nothing that could be a proxy bug. */
import { describe, expect, it } from 'vitest';
import { normalizeOutcome } from './normalize.js';

const a = 'a'.repeat(12) + '1'.repeat(52);
const b = 'b'.repeat(12) + '2'.repeat(52);
const aliases = [['compat-d1f2e3', 'compat-<run>']] as const;

describe('normalizeOutcome', () => {
  it('numbers ids by first appearance and gives a short id its long id\'s number', () => {
    const out = normalizeOutcome({ created: `${a}\n`, listed: `${b.slice(0, 12)} ${a.slice(0, 12)}`, again: `sha256:${a}` }, { aliases });
    expect(out).toEqual({ created: '<id1>\n', listed: '<short1> <id1:short>', again: 'sha256:<id1>' });
  });

  it('shows two ids swapped as a difference', () => {
    const direct = normalizeOutcome({ first: a, second: b, echo: a }, { aliases });
    const swapped = normalizeOutcome({ first: a, second: b, echo: b }, { aliases });
    expect(swapped).not.toEqual(direct);
  });

  it('keeps preserved values verbatim although they look like ids', () => {
    expect(normalizeOutcome({ sum: `${a}  /f` }, { aliases, preserve: [a] })).toEqual({ sum: `${a}  /f` });
  });

  it('blanks times, relative times and the run names, and nothing else', () => {
    const out = normalizeOutcome(
      {
        line: 'compat-d1f2e3-web Up 3 seconds 2026-11-23T15:48:12.123456789Z 2026-11-23 15:48:12 +0000 UTC',
        date: 'Mon, 23 Nov 2026 15:48:12 GMT',
        figures: 'exit 137 size 4194304 port 8080',
      },
      { aliases },
    );
    expect(out).toEqual({ line: 'compat-<run>-web Up <dur> <time> <time>', date: '<time>', figures: 'exit 137 size 4194304 port 8080' });
  });

  it('normalizes object keys too (inspect output keyed by id)', () => {
    expect(normalizeOutcome({ [a]: { Name: '/compat-d1f2e3-x' } }, { aliases })).toEqual({ '<id1>': { Name: '/compat-<run>-x' } });
  });
});
