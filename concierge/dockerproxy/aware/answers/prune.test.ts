import { describe, expect, it } from 'vitest';
import { untilNanos } from './prune.js';

describe('untilNanos', () => {
  const now = 1_700_000_000_000; // ms
  it('reads Go durations, microseconds under each of the names Go accepts', () => {
    const second = BigInt(now / 1000) * 1_000_000_000n;
    expect(untilNanos('1h', now)).toBe(second - 3600n * 1_000_000_000n);
    // U+00B5 MICRO SIGN and U+03BC GREEK SMALL LETTER MU, as time.ParseDuration takes both.
    for (const micro of ['\u00b5s', '\u03bcs', 'us']) expect(untilNanos(`2000000${micro}`, now)).toBe(second - 2n * 1_000_000_000n);
  });
  it('reads a Unix time and refuses what is neither', () => {
    expect(untilNanos('1700000000.5', now)).toBe(1_700_000_000_500_000_000n);
    expect(() => untilNanos('soon', now)).toThrow(/failed to parse value as time or duration/);
  });
});
