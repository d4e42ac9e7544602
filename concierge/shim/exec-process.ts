// The task's exec processes (ctr task exec): each is added with its OCI process spec and stdio, started
// as a workload of its own in the running guest over the container's rootfs, and kept with its exit until
// deleted. No terminal yet: an exec asking for one is refused.
import { Status } from '../../proto/gen/github.com/containerd/containerd/api/types/task/task_pb.js';
import { readProcess, type BundleProcess } from './oci-bundle.js';
import { code } from './ttrpc-messages.js';
import { TtrpcError } from './ttrpc-server.js';

export interface ExecRecord {
  execId: string;
  process: BundleProcess;
  io: { stdin: string; stdout: string; stderr: string; terminal: boolean };
  status: Status;
  exit: { status: number; at: Date } | undefined;
  exited: Promise<{ status: number; at: Date }>;
  setExit(status: number, at: Date): void;
}

/** An exec's workload id in the guest, after its container's (letters, digits, "_", "." and "-", at most 63). */
export function execWorkloadId(containerWorkload: string, execId: string): string {
  return `${containerWorkload}-exec-${execId}`.replace(/[^a-zA-Z0-9_.-]/g, '_').slice(0, 63);
}

export function newExec(execId: string, specJson: Uint8Array | undefined, io: ExecRecord['io']): ExecRecord {
  if (io.terminal) throw new TtrpcError(code.unimplemented, 'an exec with a terminal (-t) is not supported by the concierge runtime yet');
  let spec: unknown;
  try {
    spec = JSON.parse(Buffer.from(specJson ?? []).toString('utf8'));
  } catch {
    throw new TtrpcError(code.invalidArgument, 'exec: the process spec is not JSON');
  }
  let process: BundleProcess;
  try {
    process = readProcess(spec, 'exec process');
  } catch (err) {
    throw new TtrpcError(code.invalidArgument, (err as Error).message);
  }
  let resolve!: (e: { status: number; at: Date }) => void;
  const exited = new Promise<{ status: number; at: Date }>((r) => { resolve = r; });
  const record: ExecRecord = {
    execId, process, io, status: Status.CREATED, exit: undefined, exited,
    setExit: (status, at) => {
      if (record.exit !== undefined) return;
      record.exit = { status, at };
      record.status = Status.STOPPED;
      resolve(record.exit);
    },
  };
  return record;
}
