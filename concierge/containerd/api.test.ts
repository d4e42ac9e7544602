import { describe, expect, it } from 'vitest';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
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
});
