import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { base64Decode } from '@bufbuild/protobuf/wire';
import { base64Decode as nativeBase64Decode } from '../../scripts/native-base64-decode.js';
import { Tasks } from './api.js';
import { CreateTaskRequestSchema } from '../../proto/gen/github.com/containerd/containerd/api/services/tasks/v1/tasks_pb.js';

describe('the generated containerd API', () => {
  it('carries no option-only imports (gogo.proto, fieldpath.proto), only what the wire needs', () => {
    const imports = (file: typeof Tasks.file): string[] => file.dependencies.flatMap((d) => [d.name, ...imports(d)]);
    const all = imports(Tasks.file);
    expect(all).toContain('github.com/containerd/containerd/api/types/mount');
    expect(all.filter((name) => /gogo|fieldpath/.test(name))).toEqual([]);
    expect(Object.keys(Tasks.method)).toEqual(expect.arrayContaining(['create', 'start', 'delete', 'kill', 'wait']));
  });

  it('encodes and decodes a message across imported files as before (field numbers untouched)', () => {
    const request = create(CreateTaskRequestSchema, {
      containerId: 'job', rootfs: [{ type: 'overlay', source: 'overlay', options: ['lowerdir=/l'] }], stdout: '/run/out', terminal: false,
    });
    const bytes = toBinary(CreateTaskRequestSchema, request);
    // container_id is field 1 (0x0a), rootfs field 3 (0x1a), stdout field 5 (0x2a).
    expect(bytes[0]).toBe(0x0a);
    expect([...bytes]).toEqual(expect.arrayContaining([0x1a, 0x2a]));
    const back = fromBinary(CreateTaskRequestSchema, bytes);
    expect(back.containerId).toBe('job');
    expect(back.rootfs[0]?.options).toEqual(['lowerdir=/l']);
    expect(back.stdout).toBe('/run/out');
  });

  it("gives fileDesc() the bytes protobuf-es's own decoder gives, for every generated descriptor (the bundle's native decoder)", () => {
    // build.mjs bundles scripts/native-base64-decode.ts in place of protobuf-es's decoder for fileDesc().
    const gen = join(import.meta.dirname, '../../proto/gen');
    const files = readdirSync(gen, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('_pb.ts'));
    const embedded = files.flatMap((f) => [...readFileSync(join(gen, f), 'utf8').matchAll(/fileDesc\("([A-Za-z0-9+/=]+)"/g)].map((m) => m[1]!));
    expect(embedded.length).toBeGreaterThan(20);
    for (const b64 of embedded) expect(Buffer.from(nativeBase64Decode(b64))).toEqual(Buffer.from(base64Decode(b64)));
  });
});
