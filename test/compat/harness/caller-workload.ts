import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { callerSocketAccess } from '../../../concierge/supervise/docker-access.js';
import { log } from '../../../concierge/log/logger.js';
import { WorkloadRunner } from '../../../concierge/workloads/runner.js';
import { parseWorkloadSpec } from '../../../concierge/instance/spec-workloads.js';
import { busyboxLayer, ociArchive, writeArchive } from '../../workloads/image-fixtures.js';
import { runnerOptions } from '../../workloads/containerd-env.js';

/**
 * A real workload in containerd's `default` namespace with `dockerAccess`, kept alive (`sleep`) for
 * the suite: its caller-aware socket is the third target. The identity behind that socket is the
 * workload, so bind sources resolve in its rootfs and mounts; `sharedDir` is bound into it at the
 * same path, so a path a scenario names (a compose project's `./site`) means the same file to the
 * caller as to the host-side client that sends it.
 */
export interface CallerWorkload {
  /** The workload id: the owner label value on everything created through the socket. */
  id: string;
  /** The workload's caller socket, host side (inside the workload it is /var/run/docker.sock). */
  socket: string;
  /** Where its socket stages bind sources (one subdirectory per caller id). */
  stagingDir: string;
  /** Stops the workload; its socket closes and its siblings, volumes, networks and staging binds go. */
  stop(): Promise<void>;
}

export async function startCallerWorkload(options: { id: string; sharedDir: string; workDir: string; dockerd: string }): Promise<CallerWorkload> {
  const { id, sharedDir, workDir, dockerd } = options;
  mkdirSync(workDir, { recursive: true });
  const socketDir = join(workDir, 'sockets');
  const stagingDir = join(workDir, 'staging');
  // One fixed name: the content is the same every run, so containerd keeps one image record.
  const image = writeArchive(join(workDir, 'workload.tar'), ociArchive([busyboxLayer()], 'test.local/compat-caller-workload:latest'));
  const base = runnerOptions(join(workDir, 'fifo'));
  const runner = await WorkloadRunner.open({
    ...base,
    dockerAccess: callerSocketAccess({
      upstream: dockerd,
      socketDir,
      stagingDir,
      log: log.child({ test: 'compat-caller' }),
    }),
  });
  const stop = async () => {
    // Stops the workload: the provider then removes its siblings and releases their staging binds.
    await runner.close();
    const left = mountsUnder(stagingDir);
    // Never remove recursively through a bind that is still mounted: it points into the caller's files.
    if (left.length > 0) throw new Error(`staging binds left after the workload stopped: ${left.join(' ')}`);
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    await runner.start(
      parseWorkloadSpec({
        id,
        image,
        dockerAccess: true,
        // No SIGTERM handler in sleep as PID 1: stop goes straight to SIGKILL.
        stopTimeout: 0,
        args: ['sleep', '3600'],
        mounts: [{ type: 'bind', source: sharedDir, target: sharedDir }],
      }),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { id, socket: join(socketDir, `${id}.sock`), stagingDir, stop };
}

/** Mount points at or under a directory, from this process's mount table (dockerd's namespace). */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\040/g, ' '))
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
}
