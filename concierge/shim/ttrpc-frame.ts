// ttrpc's framing (github.com/containerd/ttrpc channel.go): a 10-byte header - payload length (u32 big
// endian), stream id (u32), message type (u8: 1 request, 2 response), flags (u8) - then the payload.
// A payload above 4 MiB is refused, as ttrpc refuses it.

export const headerLength = 10;
export const maxPayload = 4 << 20;

export const messageType = { request: 1, response: 2 } as const;

export interface Frame {
  streamId: number;
  type: number;
  flags: number;
  payload: Buffer;
}

export function encodeFrame(frame: Frame): Buffer {
  if (frame.payload.length > maxPayload) throw new Error(`ttrpc: payload of ${frame.payload.length} bytes exceeds ${maxPayload}`);
  const header = Buffer.alloc(headerLength);
  header.writeUInt32BE(frame.payload.length, 0);
  header.writeUInt32BE(frame.streamId, 4);
  header.writeUInt8(frame.type, 8);
  header.writeUInt8(frame.flags, 9);
  return Buffer.concat([header, frame.payload]);
}

/** Cuts a byte stream into frames, whatever the chunk boundaries. */
export class FrameReader {
  private buffered: Buffer[] = [];
  private size = 0;
  /** Bytes the frame being read needs in all (known once its header is in): no copying before then. */
  private needed = headerLength;

  /** Frames completed by this chunk; throws on a length above the limit (the connection is then unusable). */
  push(chunk: Buffer): Frame[] {
    this.buffered.push(chunk);
    this.size += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (this.size < this.needed) break;
      const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
      this.buffered = [all];
      const length = all.readUInt32BE(0);
      if (length > maxPayload) throw new Error(`ttrpc: frame of ${length} bytes exceeds ${maxPayload}`);
      this.needed = headerLength + length;
      if (this.size < this.needed) break;
      frames.push({
        streamId: all.readUInt32BE(4), type: all.readUInt8(8), flags: all.readUInt8(9),
        payload: Buffer.from(all.subarray(headerLength, headerLength + length)),
      });
      const rest = all.subarray(headerLength + length);
      this.buffered = rest.length === 0 ? [] : [rest];
      this.size = rest.length;
      this.needed = headerLength;
    }
    return frames;
  }
}
