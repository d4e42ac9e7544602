import { expect } from 'vitest';
import { normalizeOutcome, type NormalizeOptions } from './normalize.js';
import type { CommandResult } from './run-command.js';
import type { CompatRun, Target } from './targets.js';

/** The comparable part of a command's result: a timeout or a signal is part of the outcome. */
export interface CommandOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
  signal?: NodeJS.Signals;
  timedOut?: true;
}

export function outcomeOf(result: CommandResult): CommandOutcome {
  const out: CommandOutcome = { code: result.code, stdout: result.stdout, stderr: result.stderr };
  if (result.signal !== null) out.signal = result.signal;
  if (result.timedOut) out.timedOut = true;
  return out;
}

export interface ScenarioOptions extends Omit<NormalizeOptions, 'aliases'> {}

export interface ScenarioResult<T> {
  direct: T;
  proxy: T;
  /** The normalized outcome (the same for both targets once the assertion passed). */
  normalized: T;
}

/**
 * Runs one scenario straight at dockerd, then through the proxy, and asserts that the two outcomes
 * are identical after normalization. Sequential on purpose: events and listings of one target must
 * not see the other target's objects.
 */
export async function compareTargets<T>(
  run: CompatRun,
  scenario: (target: Target) => Promise<T>,
  options: ScenarioOptions = {},
): Promise<ScenarioResult<T>> {
  const direct = await scenario(run.direct);
  const proxy = await scenario(run.proxy);
  const normalize = (o: T) => normalizeOutcome(o, { ...options, aliases: run.aliases });
  const normalizedDirect = normalize(direct);
  expect(normalize(proxy), `through the proxy (raw: ${JSON.stringify(proxy)})`).toEqual(normalizedDirect);
  return { direct, proxy, normalized: normalizedDirect };
}
