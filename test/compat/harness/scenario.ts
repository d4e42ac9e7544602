import { expect } from 'vitest';
import { normalizeOutcome, type NormalizeOptions } from './normalize.js';
import type { CommandResult } from '../../lib/run-command.js';
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

export type ScenarioOptions = Omit<NormalizeOptions, 'aliases'>;

export interface ScenarioResult<T> {
  direct: T;
  proxy: T;
  caller: T;
  /** The normalized outcome (the same for every target once the assertions passed). */
  normalized: T;
}

/**
 * Runs one scenario straight at dockerd, then through the transparent proxy, then through the
 * caller socket of a workload, and asserts that each outcome is identical to the direct one after
 * normalization (concierge's own labels never appear in the caller's answers). Sequential on
 * purpose: events and listings of one target must not see another target's objects.
 */
export async function compareTargets<T>(
  run: CompatRun,
  scenario: (target: Target) => Promise<T>,
  options: ScenarioOptions = {},
): Promise<ScenarioResult<T>> {
  const direct = await scenario(run.direct);
  const proxy = await scenario(run.proxy);
  const caller = await scenario(run.caller);
  const normalize = (o: T) => normalizeOutcome(o, { ...options, aliases: run.aliases });
  const normalizedDirect = normalize(direct);
  // Soft: a difference through the proxy must not hide one through the caller socket.
  expect.soft(normalize(proxy), `through the proxy (raw: ${JSON.stringify(proxy)})`).toEqual(normalizedDirect);
  expect.soft(normalize(caller), `through the caller socket (raw: ${JSON.stringify(caller)})`).toEqual(normalizedDirect);
  return { direct, proxy, caller, normalized: normalizedDirect };
}
