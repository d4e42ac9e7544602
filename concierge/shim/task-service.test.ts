import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Status } from '../../proto/gen/github.com/containerd/containerd/api/types/task/task_pb.js';
import { Task } from '../../proto/gen/github.com/containerd/containerd/runtime/v2/task/shim_pb.js';
import { EventPublisher } from './events.js';
import { TaskService } from './task-service.js';
import { TtrpcClient } from './ttrpc-client.js';
import { code } from './ttrpc-messages.js';
import { TtrpcServer } from './ttrpc-server.js';

/** A task that is never started: what the Task service answers without a VM. */
describe('Task service over ttrpc (no VM started)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shim-task-test-'));
  const bundle = join(dir, 'bundle');
  let server: TtrpcServer;
  let client: TtrpcClient;
  let shutdowns = 0;
  const m = Task.method;
  const call = async <I extends DescMessage, O extends DescMessage>(method: { name: string; input: I; output: O }, init: MessageInitShape<I>): Promise<MessageShape<O>> =>
    fromBinary(method.output, await client.call(Task.typeName, method.name, toBinary(method.input, create(method.input, init))));

  beforeAll(async () => {
    mkdirSync(join(bundle, 'rootfs'), { recursive: true });
    writeFileSync(join(bundle, 'config.json'), JSON.stringify({ process: { args: ['true'], cwd: '/' }, root: { path: 'rootfs' } }));
    server = new TtrpcServer();
    new TaskService({
      image: { kernel: '/nonexistent', initrd: '/nonexistent' }, stateDir: join(dir, 'state'), events: new EventPublisher(undefined, 'default'),
      memoryMb: 256, cpus: 1, onShutdown: () => { shutdowns++; },
    }).register(server);
    await server.listen(join(dir, 'shim.sock'));
    client = await TtrpcClient.connect(join(dir, 'shim.sock'));
  });
  afterAll(async () => {
    client.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, reports, kills before start, waits, deletes, then shuts down; unknown ids and unsupported methods answer as containerd expects', async () => {
    await call(m.create, { id: 'c1', bundle, stdout: '', stderr: '' });
    await expect(call(m.create, { id: 'c2', bundle })).rejects.toMatchObject({ code: code.alreadyExists });
    expect(await call(m.state, { id: 'c1' })).toMatchObject({ id: 'c1', bundle, status: Status.CREATED });
    await expect(call(m.state, { id: 'nope' })).rejects.toMatchObject({ code: code.notFound });
    await expect(call(m.stats, { id: 'c1' })).rejects.toMatchObject({ code: code.failedPrecondition }); // no VM yet: no cgroup
    await expect(call(m.update, { id: 'c1' })).rejects.toMatchObject({ code: code.unimplemented });
    await expect(call(m.exec, { id: 'c1', execId: 'e1' })).rejects.toMatchObject({ code: code.failedPrecondition });

    const waited = call(m.wait, { id: 'c1' });
    await call(m.kill, { id: 'c1', signal: 9 });
    expect((await waited).exitStatus).toBe(137);
    expect(await call(m.state, { id: 'c1' })).toMatchObject({ status: Status.STOPPED, exitStatus: 137 });
    expect(await call(m.connect, { id: 'c1' })).toMatchObject({ shimPid: process.pid });

    expect((await call(m.delete, { id: 'c1' })).exitStatus).toBe(137);
    await expect(call(m.state, { id: 'c1' })).rejects.toMatchObject({ code: code.notFound });
    await call(m.shutdown, { id: 'c1' });
    await new Promise((r) => setImmediate(r));
    expect(shutdowns).toBe(1);
  });
});
