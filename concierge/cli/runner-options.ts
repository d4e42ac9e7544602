import { callerSocketAccess, callerSocketDefaults } from '../supervise/docker-access.js';
import type { WorkloadRunnerOptions } from '../workloads/runner.js';

/**
 * The containerd and docker flags `run` and `serve` share, as runner options: with --docker, each
 * dockerAccess workload gets a caller-aware socket of its own in front of dockerd.
 */
export function runnerOptionsFromFlags(flags: { containerd?: string | undefined; 'containerd-state'?: string | undefined; docker?: string | undefined }): WorkloadRunnerOptions {
  return {
    ...(flags.containerd ? { containerdSocket: flags.containerd } : {}),
    ...(flags['containerd-state'] ? { containerdState: flags['containerd-state'] } : {}),
    ...(flags.docker ? { dockerAccess: callerSocketAccess(callerSocketDefaults(flags.docker)) } : {}),
  };
}
