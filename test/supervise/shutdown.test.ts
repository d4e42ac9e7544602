import { afterEach, describe, expect, it } from 'vitest';
import { busyboxLayer, dockerArchive } from '../workloads/image-fixtures.js';
import { message, startInstance, type RunningInstance } from './harness.js';

const shutdownSteps = (instance: RunningInstance): string[] =>
  instance.lines.flatMap((l) => (typeof l.json?.shutdownStep === 'string' ? [l.json.shutdownStep] : []));

const orderedSteps = [
  'workloads stopped', 'result decided', 'dockerd stopped', 'containerd stopped', 'dns cache closed', 'remaining processes ended', 'control API closed', 'reaper stopped',
  'synced', 'unmounted', 'synced after unmount',
];

describe('PID 1 shutdown', () => {
  let instance: RunningInstance | undefined;
  afterEach(async () => {
    await instance?.stop();
    instance = undefined;
  });

  it('shuts down in order on SIGTERM and PID 1 exits with the recorded code', async () => {
    instance = await startInstance({ spec: { docker: { bridge: 'none' } } });
    await instance.waitFor(message('dockerd ready'), 'dockerd ready', 120_000);
    process.kill(instance.hostPid, 'SIGTERM');
    expect(await instance.exited).toBe(0);
    expect(shutdownSteps(instance)).toEqual(orderedSteps);
    expect(instance.lines.some((l) => l.raw.startsWith('concierge: result exit-code=0 reason="signal SIGTERM"'))).toBe(true);
    expect(instance.lines.find((l) => l.json?.shutdownStep === 'dockerd stopped' || l.json?.msg === 'daemon ignored SIGTERM; SIGKILL')?.json?.msg).toBe('shutdown: dockerd stopped');
  });

  it('turns an uncaught error into the same orderly shutdown, never a crash', async () => {
    instance = await startInstance({ spec: { docker: { enabled: false } }, testEntry: ['--throw-after', '200'] });
    expect(await instance.exited).toBe(70);
    expect(shutdownSteps(instance)).toEqual(orderedSteps);
    expect(instance.lines.some((l) => l.raw.startsWith('concierge: result exit-code=70 reason="uncaught error: Error: injected test error'))).toBe(true);
  });

  it('refuses a bad spec with a clear error and the bad-spec code', async () => {
    instance = await startInstance({ spec: { network: { interfaces: [{ name: 'eth0', mtu: 1 }] } } });
    expect(await instance.exited).toBe(2);
    expect(instance.lines.some((l) => l.raw.includes('reason="bad instance spec: instance spec from /etc/concierge/instance.json: spec.network.interfaces[0].mtu: expected an integer from 68 to 65535"'))).toBe(true);
  });

  it('runs a workload once containerd answers and ends the instance with its exit code', async () => {
    const archive = dockerArchive([busyboxLayer()], 'pid1-test/busybox:1');
    instance = await startInstance({
      spec: {
        docker: { bridge: 'none' },
        workloads: [{ id: 'job', image: '/images/busybox.tar', args: ['sh', '-c', 'echo hello-from-the-job; exit 3'] }],
      },
      files: { '/images/busybox.tar': archive },
    });
    expect(await instance.exited).toBe(3);
    expect(instance.lines.some((l) => l.raw === 'hello-from-the-job')).toBe(true);
    expect(instance.lines.some((l) => l.json?.timeline === 'first workload started')).toBe(true);
    expect(instance.lines.some((l) => l.raw.startsWith('concierge: result exit-code=3 reason="last workload exited"'))).toBe(true);
    expect(shutdownSteps(instance)).toEqual(orderedSteps);
  });
});
