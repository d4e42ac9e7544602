// A workload's recent output for the control API: a bounded buffer of chunks (oldest dropped first) and
// live followers, ended when the workload is removed.
import type { OutputStream } from './workload.js';

export interface OutputChunk {
  stream: OutputStream;
  data: Buffer;
}

type Follower = { write(chunk: OutputChunk): void; end(): void };

export class OutputLog {
  private readonly chunks: OutputChunk[] = [];
  private size = 0;
  private readonly followers = new Set<Follower>();
  private ended = false;

  constructor(private readonly capacity = 4 * 1024 * 1024) {}

  append(stream: OutputStream, data: Buffer): void {
    const chunk = { stream, data };
    this.chunks.push(chunk);
    this.size += data.length;
    while (this.size > this.capacity && this.chunks.length > 1) this.size -= this.chunks.shift()!.data.length;
    for (const f of this.followers) f.write(chunk);
  }

  snapshot(): OutputChunk[] {
    return [...this.chunks];
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Adds a follower of new output; returns its removal. */
  follow(follower: Follower): () => void {
    if (this.ended) {
      follower.end();
      return () => undefined;
    }
    this.followers.add(follower);
    return () => this.followers.delete(follower);
  }

  end(): void {
    this.ended = true;
    for (const f of this.followers) f.end();
    this.followers.clear();
  }
}
