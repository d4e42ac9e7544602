// A workload's recent output for the control API: a bounded buffer of chunks (oldest dropped first) and
// live followers, ended when the workload is removed. Each chunk knows its byte offset in its stream,
// so a reader that reconnects asks for the bytes from where it stopped.
import type { OutputStream } from './workload.js';

export interface OutputChunk {
  stream: OutputStream;
  data: Buffer;
  /** Bytes of this stream written before this chunk. */
  offset: number;
}

type Follower = { write(chunk: OutputChunk): void; end(): void };

export class OutputLog {
  private readonly chunks: OutputChunk[] = [];
  private size = 0;
  private readonly written = { stdout: 0, stderr: 0 };
  private readonly followers = new Set<Follower>();
  private ended = false;

  constructor(private readonly capacity = 4 * 1024 * 1024) {}

  append(stream: OutputStream, data: Buffer): void {
    const chunk = { stream, data, offset: this.written[stream] };
    this.written[stream] += data.length;
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

/** The part of a chunk at or after byte `from` of its stream (undefined when it is all before). */
export function sliceFrom(chunk: OutputChunk, from: number): Buffer | undefined {
  const end = chunk.offset + chunk.data.length;
  if (end <= from) return undefined;
  return from <= chunk.offset ? chunk.data : chunk.data.subarray(from - chunk.offset);
}
