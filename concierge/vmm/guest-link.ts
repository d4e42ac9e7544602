// The host's link to a guest over the host channel: follows the guest's events from the start (or from
// the last one seen, after the channel was reopened), follows each workload's output to the host's
// stdout and stderr from the byte it had reached, and keeps the instance's result from the power-off
// event. One HTTP/2 session at a time; a broken one is replaced until the guest has powered off.
import type { ClientHttp2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { InstanceEvent } from '../events/event-log.js';
import { onLines, openChannel, request } from '../hostchannel/http2-client.js';

export interface GuestLinkSinks {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  event(event: InstanceEvent): void;
  /** Where one workload's output goes instead of stdout/stderr (a shim's exec process has pipes of its own). */
  outputOf?(workload: string, stream: Stream): NodeJS.WritableStream | undefined;
  /** A workload's output was read to its end (it was removed). */
  outputEnded?(workload: string): void;
}

export type Stream = 'stdout' | 'stderr';

export class GuestLink {
  session: ClientHttp2Session | undefined;
  result: { exitCode: number; reason: string } | undefined;
  /** Host sessions opened so far. */
  sessions = 0;
  private lastSeq = 0;
  private readonly offsets = new Map<string, Record<Stream, number>>();
  /** Workloads whose output ended (they were removed): not followed again after a reopen. */
  private readonly outputEnded = new Set<string>();
  private stopped = false;
  /** The connection a session is being opened on (ended by stop() too). */
  private connecting: Duplex | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly connect: () => Duplex, private readonly sinks: GuestLinkSinks) {}

  /** Keeps a session open until stop(); resolves then. */
  async run(): Promise<void> {
    while (!this.stopped) {
      let session: ClientHttp2Session;
      try {
        // The guest answers once concierge has opened its port: during its boot the first bytes wait.
        session = await openChannel(() => {
          this.connecting = this.connect();
          return this.connecting;
        }, { attempts: 1, timeoutMs: 600_000 });
      } catch {
        await this.pause(500);
        continue;
      }
      if (this.stopped) {
        session.destroy();
        break;
      }
      this.session = session;
      this.sessions++;
      const closed = new Promise<void>((resolve) => session.once('close', resolve));
      this.followEvents(session);
      for (const id of this.offsets.keys()) if (!this.outputEnded.has(id)) this.followOutput(session, id);
      await closed;
      if (this.session === session) this.session = undefined;
      if (this.result !== undefined) break;
      await this.pause(300);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => { clearTimeout(timer); resolve(); };
    });
  }

  stop(): void {
    this.stopped = true;
    this.session?.destroy();
    this.connecting?.destroy();
    this.wake?.();
  }

  /** Follows the output of a workload the host started itself (the guest's events name only the spec's). */
  follow(workload: string): void {
    if (this.offsets.has(workload)) return;
    this.offsets.set(workload, { stdout: 0, stderr: 0 });
    if (this.session !== undefined) this.followOutput(this.session, workload);
  }

  /** Drops the current session (the channel is reopened): what the guest sends meanwhile is caught up. */
  reopen(): void {
    this.session?.destroy();
  }

  /** Asks the guest for an orderly shutdown; false when no session is open or the guest refused. */
  async requestShutdown(reason: string): Promise<boolean> {
    const session = this.session;
    if (session === undefined) return false;
    try {
      return (await request(session, 'POST', '/shutdown', { reason })).status === 202;
    } catch {
      return false;
    }
  }

  private followEvents(session: ClientHttp2Session): void {
    const stream = session.request({ ':path': `/events?follow=1&since=${this.lastSeq}` });
    stream.on('error', () => undefined);
    onLines(stream, (line) => {
      let event: InstanceEvent;
      try {
        event = JSON.parse(line) as InstanceEvent;
      } catch {
        return;
      }
      if (event.seq <= this.lastSeq) return;
      this.lastSeq = event.seq;
      this.sinks.event(event);
      if (event.type === 'workload.started' && !this.offsets.has(event.workload)) {
        this.offsets.set(event.workload, { stdout: 0, stderr: 0 });
        this.followOutput(session, event.workload);
      }
      if (event.type === 'poweroff') this.result = { exitCode: event.exitCode, reason: event.reason };
    });
  }

  private followOutput(session: ClientHttp2Session, id: string): void {
    const offsets = this.offsets.get(id)!;
    let ended = 0;
    for (const name of ['stdout', 'stderr'] as const) {
      const path = `/workloads/${encodeURIComponent(id)}/logs?stream=${name}&from=${offsets[name]}&follow=1`;
      const stream = session.request({ ':path': path });
      let status = 0;
      // Bytes are taken only from a 200 answer (the stream stays paused until then).
      stream.on('response', (h) => {
        status = Number(h[':status']);
        if (status !== 200) {
          stream.resume();
          return;
        }
        const sink = this.sinks.outputOf?.(id, name) ?? this.sinks[name];
        stream.on('data', (chunk: Buffer) => {
          offsets[name] += chunk.length;
          sink.write(chunk);
        });
      });
      stream.on('error', () => undefined);
      stream.on('end', () => {
        // A whole answer (not one cut by a broken session): the workload's output is complete.
        if (session.destroyed || session.closed) return;
        if (status === 200 && ++ended === 2) {
          this.outputEnded.add(id);
          this.sinks.outputEnded?.(id);
        }
        if (status === 404) this.outputEnded.add(id);
      });
    }
  }
}
