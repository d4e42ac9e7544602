// cli/: composition root of the subcommands; each is loaded when it is run.
/** A subcommand: loaded lazily so `concierge proxy` never pays for the containerd client. */
export interface Command {
  summary: string;
  load(): Promise<{ run(args: string[]): Promise<number | undefined> }>;
}

export const commands: Record<string, Command> = {
  init: { summary: 'run as the guest\'s init (PID 1): boot, supervise containerd + dockerd, run the workloads', load: () => import('./init.js') },
  run: { summary: 'run one workload (a containerd container) from a workload spec', load: () => import('./run.js') },
  pull: { summary: 'pull an image from its registry (or import an archive) into containerd', load: () => import('./pull.js') },
  serve: { summary: 'run an instance spec\'s workloads with a control API on a unix socket', load: () => import('./serve.js') },
  vm: { summary: 'host side: boot a guest under qemu, stream its job, serve its control API, exit with the job\'s code', load: () => import('./vm.js') },
  shim: { summary: 'containerd runtime v2 shim (io.containerd.concierge.v1): a container as a microVM; also run as containerd-shim-concierge-v1', load: () => import('./shim.js') },
  proxy: { summary: 'serve the Docker API on a unix socket, forwarding to dockerd', load: () => import('./proxy.js') },
};
