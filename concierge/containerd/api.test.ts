import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInThisContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { GenFile } from '@bufbuild/protobuf/codegenv2';
import { decodedExpression, inlineFileDescriptors } from '../../scripts/inline-descriptors.mjs';
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

  it("gives the bundle's fileDesc() the message protobuf-es's own fileDesc() decodes, for every generated file", async () => {
    // build.mjs bundles the generated files with their descriptors decoded at build time
    // (scripts/inline-descriptors.mjs); here protobuf-es decodes them as it does outside the bundle.
    const gen = join(import.meta.dirname, '../../proto/gen');
    const sources = readdirSync(gen, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('_pb.ts')).map((f) => join(gen, f));
    const wkt = await import('@bufbuild/protobuf/wkt');
    const decoded = new Map<string, GenFile>(
      [wkt.file_google_protobuf_any, wkt.file_google_protobuf_empty, wkt.file_google_protobuf_field_mask, wkt.file_google_protobuf_timestamp]
        .map((f) => [f.proto.name, f]));
    for (const source of sources) {
      for (const value of Object.values(await import(source) as Record<string, unknown>)) {
        if (typeof value === 'object' && value !== null && 'kind' in value && value.kind === 'file') decoded.set((value as GenFile).proto.name, value as GenFile);
      }
    }
    const wktSources = ['any', 'empty', 'field_mask', 'timestamp']
      .map((n) => join(import.meta.dirname, `../../node_modules/@bufbuild/protobuf/dist/esm/wkt/google/protobuf/${n}_pb.js`));
    let compared = 0;
    for (const file of [...sources, ...wktSources]) {
      const source = readFileSync(file, 'utf8');
      for (const [, b64] of source.matchAll(/fileDesc\("([A-Za-z0-9+/=]+)"/g)) {
        const inlined = runInThisContext(decodedExpression(b64!)) as { name: string; dependency: string[] };
        const original = decoded.get(inlined.name);
        expect(original, inlined.name).toBeDefined();
        // fileDesc() sets the imports' names in both; the rest is decoded.
        inlined.dependency = original!.proto.dependency;
        expect(shapeOf(inlined), inlined.name).toStrictEqual(shapeOf(original!.proto));
        compared++;
      }
      // The well-known files come from their own modules, never from the index (which runs them all).
      const rewritten = inlineFileDescriptors(source);
      expect(rewritten).not.toMatch(/fileDesc\("|import \{[^}]*\} from "@bufbuild\/protobuf\/wkt"/);
      for (const [, path] of rewritten.matchAll(/import \{ file_google_protobuf_\w+ \} from "([^"]+)"/g)) expect(existsSync(path!), path).toBe(true);
    }
    expect(compared).toBe(decoded.size);
    expect(compared).toBeGreaterThan(20);
  });
});

/** A message's own fields and its prototype's defaults (protobuf-es tells set fields by own properties). */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shapeOf);
  if (value instanceof Uint8Array) return { bytes: [...value] };
  if (typeof value === 'bigint') return { bigint: String(value) };
  if (typeof value !== 'object' || value === null) return value;
  const prototype = Object.getPrototypeOf(value) as object;
  return {
    own: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shapeOf(v)])),
    defaults: prototype === Object.prototype ? null : { ...prototype },
  };
}
