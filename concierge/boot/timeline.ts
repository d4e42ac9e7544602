import { performance } from 'node:perf_hooks';
import { log } from '../log/logger.js';

/**
 * The boot timeline: milliseconds from concierge's first console line to each event, and how long
 * the process took to reach that line (Node's own start). One log line per event.
 */
export class Timeline {
  /** ms since the process started, at the first line. */
  readonly origin = performance.now();
  readonly events: { event: string; atMs: number; tookMs?: number }[] = [];

  /** Milliseconds since the first line. */
  now(): number {
    return round(performance.now() - this.origin);
  }

  mark(event: string, fields: Record<string, unknown> = {}, tookMs?: number): void {
    const atMs = this.now();
    this.events.push(tookMs === undefined ? { event, atMs } : { event, atMs, tookMs });
    log.info({ timeline: event, atMs, ...(tookMs === undefined ? {} : { tookMs }), ...fields }, `timeline +${atMs}ms ${event}`);
  }

  /** Runs a synchronous step and marks it with its duration. */
  step<T>(event: string, run: () => T, describe: (result: T) => Record<string, unknown> = () => ({})): T {
    const started = performance.now();
    const result = run();
    this.mark(event, describe(result), round(performance.now() - started));
    return result;
  }
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;
