// The containerd and dockerd the tests (and the bench) use: `eval "$(bash scripts/daemons.sh env)"` exports their sockets.

function socketFrom(variable: 'CONTAINERD_SOCK' | 'DOCKERD_SOCK'): string {
  const socket = process.env[variable];
  if (socket === undefined || socket === '') throw new Error(`${variable} is not set: eval "$(bash scripts/daemons.sh env)" first`);
  return socket;
}

export const containerdSocket = (): string => socketFrom('CONTAINERD_SOCK');
export const dockerdSocket = (): string => socketFrom('DOCKERD_SOCK');
