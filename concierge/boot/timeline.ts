import { performance } from 'node:perf_hooks';
import { log } from '../log/logger.js';

/** One boot step as the timeline keeps it until the boot is done. */
export interface StepRecord {
  step: string;
  tookMs: number;
  [field: string]: unknown;
}

/**
 * The boot timeline: milliseconds from concierge's first console line to each event, and how long
 * the process took to reach that line (Node's own start). One log line per event; the boot's steps
 * are kept and told in the line that ends the boot, since a console line per step costs more than
 * most steps (and on a serial console far more).
 */
/** A mark as the timeline keeps it (for the control API's status) and tells its listener. */
export interface TimelineMark {
  name: string;
  atMs: number;
  fields: Record<string, unknown>;
  steps: StepRecord[];
}

export class Timeline {
  /** ms since the process started, at the first line. */
  readonly origin = performance.now();
  private steps: StepRecord[] = [];
  readonly marks: TimelineMark[] = [];
  /** Told each mark (the instance's events). */
  onMark: ((mark: TimelineMark) => void) | undefined;

  /** Milliseconds since the first line. */
  now(): number {
    return round(performance.now() - this.origin);
  }

  /** Logs an event, with the steps run since the previous event. */
  mark(event: string, fields: Record<string, unknown> = {}): void {
    const atMs = this.now();
    const steps = this.steps;
    this.steps = [];
    const mark = { name: event, atMs, fields, steps };
    this.marks.push(mark);
    this.onMark?.(mark);
    log.info({ timeline: event, atMs, ...fields, ...(steps.length > 0 ? { steps } : {}) }, `timeline +${atMs}ms ${event}`);
  }

  /**
   * Runs a synchronous step and records its duration for the next mark. A failing step's error is
   * named after it (an error the step already names, like a bad spec's, is left as it is).
   */
  step<T>(name: string, run: () => T, describe: (result: T) => Record<string, unknown> = () => ({}), namesItself = false): T {
    const started = performance.now();
    let result: T;
    try {
      result = run();
    } catch (err) {
      if (!namesItself && err instanceof Error) err.message = `boot step ${name}: ${err.message}`;
      throw err;
    }
    this.steps.push({ step: name, tookMs: round(performance.now() - started), ...describe(result) });
    return result;
  }
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;
