import type { WorkloadRunnerOptions } from '../workloads/runner.js';

/** The containerd and docker flags `run` and `serve` share, as runner options. */
export function runnerOptionsFromFlags(flags: { containerd?: string | undefined; 'containerd-state'?: string | undefined; docker?: string | undefined }): WorkloadRunnerOptions {
  return {
    ...(flags.containerd ? { containerdSocket: flags.containerd } : {}),
    ...(flags['containerd-state'] ? { containerdState: flags['containerd-state'] } : {}),
    ...(flags.docker ? { dockerSocket: flags.docker } : {}),
  };
}
