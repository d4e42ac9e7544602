// The command line containerd 1.6 gives a runtime v2 shim, in Go's flag syntax: `-namespace ns -address
// <containerd.sock> -publish-binary <containerd> -id <id> [-debug] [-bundle <dir>] start|delete`.
export interface ShimFlags {
  namespace: string;
  address: string;
  publishBinary: string;
  id: string;
  bundle: string;
  debug: boolean;
  action: string;
}

const valued = new Set(['namespace', 'address', 'publish-binary', 'id', 'bundle', 'socket']);
const booleans = new Set(['debug', 'v']);

export function parseShimFlags(args: string[], cwd: string): ShimFlags {
  const values = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-') || arg === '-' || positional.length > 0) {
      positional.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    if (booleans.has(name)) values.set(name, eq < 0 ? 'true' : body.slice(eq + 1));
    else if (valued.has(name)) {
      const value = eq < 0 ? args[++i] : body.slice(eq + 1);
      if (value === undefined) throw new Error(`flag needs an argument: -${name}`);
      values.set(name, value);
    } else throw new Error(`flag provided but not defined: -${name}`);
  }
  return {
    namespace: values.get('namespace') ?? '',
    address: values.get('address') ?? '',
    publishBinary: values.get('publish-binary') ?? '',
    id: values.get('id') ?? '',
    bundle: values.get('bundle') ?? cwd,
    debug: values.get('debug') === 'true',
    action: positional[0] ?? '',
  };
}
