// `delete`: containerd's cleanup after a shim's connection closed (after a task's Delete too, or the shim
// died). Ends the bundle's VM (by the qemu pid the shim recorded, only if that pid still is a qemu), the
// shim server if it lives on, unmounts the rootfs and removes the shim's state; the answer is a
// DeleteResponse on stdout, the status a SIGKILL death gives. A pod member's bundle only has its rootfs
// and its bound directories unmounted from the sandbox's share (its rootfs from the bundle too): the VM
// and the shim are the sandbox's, whose own `delete` ends them.
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DeleteResponseSchema } from '../../proto/gen/github.com/containerd/containerd/runtime/v2/task/shim_pb.js';
import { detachMount } from './host-rootfs.js';
import { podOfBundle, servingBundle, unshareBinds, unshareRootfs } from './sandbox.js';
import { removeShimState } from './state-removal.js';
import { shimStateDir } from './shim-paths.js';

function pidFrom(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function killIf(pid: number | undefined, isIt: (cmdline: string) => boolean): void {
  if (pid === undefined) return;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return; // gone
  }
  if (isIt(cmdline)) process.kill(pid, 'SIGKILL');
}

export function deleteShimState(bundle: string): Uint8Array {
  const serving = servingBundle(bundle, podOfBundle(bundle));
  const stateDir = shimStateDir(serving);
  const rootfs = join(bundle, 'rootfs');
  if (serving !== bundle) {
    unshareBinds(stateDir, basename(bundle));
    unshareRootfs(stateDir, basename(bundle));
    if (existsSync(rootfs)) detachMount(rootfs);
    return toBinary(DeleteResponseSchema, create(DeleteResponseSchema, { pid: 0, exitStatus: 128 + 9, exitedAt: timestampNow() }));
  }
  const qemuPid = pidFrom(join(stateDir, 'qemu.pid'));
  killIf(qemuPid, (c) => c.includes('qemu-system') && c.includes(stateDir));
  killIf(pidFrom(join(stateDir, 'shim.pid')), (c) => c.includes('serve') && c.includes('-id'));
  if (existsSync(rootfs)) detachMount(rootfs);
  // The share's binds go first: removing the state must not reach into a rootfs or a bound host directory.
  removeShimState(stateDir);
  return toBinary(DeleteResponseSchema, create(DeleteResponseSchema, { pid: qemuPid ?? 0, exitStatus: 128 + 9, exitedAt: timestampNow() }));
}
