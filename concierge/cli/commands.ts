/** A subcommand: loaded lazily so `concierge proxy` never pays for the containerd client. */
export interface Command {
  summary: string;
  load(): Promise<{ run(args: string[]): Promise<number | undefined> }>;
}

export const commands: Record<string, Command> = {
  proxy: { summary: 'serve the Docker API on a unix socket, forwarding to dockerd', load: () => import('./proxy.js') },
};
