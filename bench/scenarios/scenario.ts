import type { Target } from '../lib/targets.js';

/** Sizes and bounds of one run; every loop stops at its count or its time limit, whichever comes first. */
export interface Scale {
  pingRequests: number;
  newConnectionRequests: number;
  concurrentClients: number;
  concurrentSeconds: number;
  listRequests: number;
  lifecycleCycles: number;
  /** Bytes of the `docker cp` file, the attach stream and the logs. */
  streamBytes: number;
  /** Wall-clock bound of each latency loop. */
  loopSeconds: number;
  /** Create + DELETE cycles with a bind per target and round, and their wall-clock bound. */
  bindCycles: number;
  bindSeconds: number;
}

export interface Context {
  scale: Scale;
  /** A stopped container whose json-file log holds `scale.streamBytes` of output. */
  logsContainer: string;
  /** Containers the list scenario finds (labelled), so the answer has a stable size. */
  listFilter: string;
  /**
   * A host directory that targets without a caller bind as-is; a caller-aware socket is sent
   * CALLER_BIND_SOURCE instead, the same kind of directory inside its caller's root.
   */
  hostBindSource: string;
}

/** The bind source a caller-aware target is sent: a directory in the caller's root (bench/run.ts makes it). */
export const CALLER_BIND_SOURCE = '/data';

/**
 * What one scenario measured on one target in one round. `requests` (or `bytes`) is the work done,
 * which the proxy's CPU time is divided by to give a cost per request (or per GB).
 */
export type Measure =
  | { kind: 'latency'; samplesMs: number[] }
  | { kind: 'rate'; count: number; seconds: number; requests: number }
  | { kind: 'throughput'; bytes: number; seconds: number };

/** Figures keyed by figure id (see lib/report.ts). */
export type Figures = Record<string, Measure>;

/**
 * The targets a scenario runs on; without it, every target but caller-aware sockets (which answer
 * only for what their caller owns, so lists and logs would differ).
 */
export type AppliesTo = (target: Target) => boolean;

/** Measured on one target at a time; the round runs it on each target in turn. */
export interface SerialScenario {
  readonly id: string;
  readonly interleaved: false;
  readonly appliesTo?: AppliesTo;
  run(target: Target, ctx: Context): Promise<Figures>;
}

/**
 * Latency loops: one request to each target in turn, then the next, so that a burst of machine noise
 * lands on every target alike (the machine is shared and has two cores).
 */
export interface InterleavedScenario {
  readonly id: string;
  readonly interleaved: true;
  readonly appliesTo?: AppliesTo;
  run(targets: readonly Target[], ctx: Context): Promise<Map<string, Figures>>;
}

export type Scenario = SerialScenario | InterleavedScenario;
