// ttrpc's Request and Response messages. Debian's ttrpc (golang-github-containerd-ttrpc-dev) declares them
// in Go only (types.go, with protobuf field tags) and ships no .proto, so they are written here with the
// protobuf wire primitives: Request{1 service, 2 method, 3 payload, 4 timeout_nano, 5 metadata{1 key,
// 2 value}}, Response{1 status (google.rpc.Status), 2 payload}.
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { StatusSchema, type Status } from '../../proto/gen/google/rpc/status_pb.js';

export interface TtrpcRequest {
  service: string;
  method: string;
  payload: Uint8Array;
  timeoutNano: bigint;
  metadata: { key: string; value: string }[];
}

export interface TtrpcResponse {
  status?: Status;
  payload: Uint8Array;
}

/** gRPC status codes ttrpc answers with. */
export const code = { ok: 0, unknown: 2, invalidArgument: 3, notFound: 5, alreadyExists: 6, failedPrecondition: 9, unimplemented: 12, internal: 13, unavailable: 14 } as const;

export function encodeRequest(r: TtrpcRequest): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).string(r.service);
  w.tag(2, WireType.LengthDelimited).string(r.method);
  w.tag(3, WireType.LengthDelimited).bytes(r.payload);
  if (r.timeoutNano !== 0n) w.tag(4, WireType.Varint).int64(r.timeoutNano);
  for (const kv of r.metadata) {
    w.tag(5, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(kv.key)
      .tag(2, WireType.LengthDelimited).string(kv.value).join();
  }
  return w.finish();
}

function decodeKeyValue(bytes: Uint8Array): { key: string; value: string } {
  const r = new BinaryReader(bytes);
  const kv = { key: '', value: '' };
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === WireType.LengthDelimited) kv.key = r.string();
    else if (field === 2 && wire === WireType.LengthDelimited) kv.value = r.string();
    else r.skip(wire);
  }
  return kv;
}

export function decodeRequest(bytes: Uint8Array): TtrpcRequest {
  const r = new BinaryReader(bytes);
  const req: TtrpcRequest = { service: '', method: '', payload: new Uint8Array(), timeoutNano: 0n, metadata: [] };
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === WireType.LengthDelimited) req.service = r.string();
    else if (field === 2 && wire === WireType.LengthDelimited) req.method = r.string();
    else if (field === 3 && wire === WireType.LengthDelimited) req.payload = r.bytes();
    else if (field === 4 && wire === WireType.Varint) req.timeoutNano = BigInt(r.int64());
    else if (field === 5 && wire === WireType.LengthDelimited) req.metadata.push(decodeKeyValue(r.bytes()));
    else r.skip(wire);
  }
  return req;
}

export function encodeResponse(res: TtrpcResponse): Uint8Array {
  const w = new BinaryWriter();
  if (res.status !== undefined) w.tag(1, WireType.LengthDelimited).bytes(toBinary(StatusSchema, res.status));
  if (res.payload.length > 0) w.tag(2, WireType.LengthDelimited).bytes(res.payload);
  return w.finish();
}

export function decodeResponse(bytes: Uint8Array): TtrpcResponse {
  const r = new BinaryReader(bytes);
  const res: TtrpcResponse = { payload: new Uint8Array() };
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === WireType.LengthDelimited) res.status = fromBinary(StatusSchema, r.bytes());
    else if (field === 2 && wire === WireType.LengthDelimited) res.payload = r.bytes();
    else r.skip(wire);
  }
  return res;
}
