// The instance's events for the host: what happened and when, in order, kept for late readers and
// pushed to followers (the control API's `GET /events?follow=1`). Bounded: the oldest are dropped
// first, a follower that joins later still gets everything kept.

/** Every kind of event, with the fields each carries besides `seq`, `time` and `type`. */
export interface EventFields {
  /** A boot timeline mark ("boot steps done", "containerd ready", ...); `steps` with the boot's steps. */
  'timeline': { name: string; atMs: number; steps?: { step: string; tookMs: number }[] };
  'daemon.ready': { daemon: string; pid: number; startMs: number; restarts: number };
  'daemon.exited': { daemon: string; pid: number; code: number | null; signal: string | null };
  /** A workload's image pulled from a registry: layers and bytes fetched (0 when containerd had them). */
  'image.pulled': { image: string; layers: number; bytes: number; ms: number };
  /**
   * `runtime`: the OCI runtime that made its task (crun or runc); `imageMs`: resolving or importing its
   * image (the pull); `createMs`, `startMs`: containerd's steps.
   */
  'workload.started': { workload: string; runtime: string; pid: number; imageMs: number; createMs: number; startMs: number };
  'workload.failed': { workload: string; error: string };
  /** The OOM killer killed a process of a running workload (its cgroup's oom_kill count, now). */
  'workload.oom': { workload: string; oomKills: number };
  'workload.exited': { workload: string; exitCode: number; signal: string | null; oomKilled: boolean };
  'shutdown.started': { reason: string };
  'poweroff': { exitCode: number; reason: string; shutdownMs: number };
}

export type EventType = keyof EventFields;

export type InstanceEvent = { [T in EventType]: { seq: number; time: string; type: T } & EventFields[T] }[EventType];

type Follower = (event: InstanceEvent) => void;

export class EventLog {
  private readonly events: InstanceEvent[] = [];
  private readonly followers = new Set<Follower>();
  private seq = 0;

  constructor(private readonly capacity = 10_000, private readonly clock: () => Date = () => new Date()) {}

  emit<T extends EventType>(type: T, fields: EventFields[T]): InstanceEvent {
    const event = { seq: ++this.seq, time: this.clock().toISOString(), type, ...fields } as InstanceEvent;
    this.events.push(event);
    if (this.events.length > this.capacity) this.events.shift();
    for (const f of this.followers) f(event);
    return event;
  }

  /** Events kept with a sequence number above `afterSeq`. */
  since(afterSeq = 0): InstanceEvent[] {
    return this.events.filter((e) => e.seq > afterSeq);
  }

  /** Calls `follower` for every later event; returns its removal. */
  follow(follower: Follower): () => void {
    this.followers.add(follower);
    return () => this.followers.delete(follower);
  }
}
