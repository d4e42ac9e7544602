/**
 * The exit code of `concierge run` (and of the instance) when a workload cannot start at all: its image
 * cannot be pulled or resolved, or its container cannot be made. 125 is what `docker run` exits with
 * when the failure is docker's rather than the container's.
 */
export const workloadDidNotStartExitCode = 125;
