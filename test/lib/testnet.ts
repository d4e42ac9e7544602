// The closed test network (scripts/testnet.sh does the `ip` work): a namespace of its own with a
// bridge, a tap for qemu, and the test host's address on the bridge. Nothing routes out of it.
//
//   const net = await createTestNet('registry');          // namespace concierge-<tag>-<pid>-<n>
//   const dns = net.spawn('dnsmasq', ['--keep-in-foreground', ...]);   // a test-host service
//   await net.run('busybox', ['wget', '-qO-', `http://${net.hostAddress}:8080/x`]);
//   net.qemuArgs()                                         // -netdev tap + -device virtio-net-pci
//   await net.remove();                                    // stops what spawn started, deletes the namespace
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const script = join(new URL('../..', import.meta.url).pathname, 'scripts', 'testnet.sh');
let made = 0;

export interface TestNetOptions {
  /** The test host's address on the bridge; the guest takes another one in the same /24. */
  hostAddress?: string;
  prefixLength?: number;
}

export interface TestNet {
  /** The network namespace (unique: the tag, this process's pid and a counter). */
  readonly name: string;
  readonly bridge: string;
  /** The tap device qemu attaches to (it must run inside the namespace: `net.command('qemu-...')`). */
  readonly tap: string;
  /** The test host: where its services listen, and the guest's gateway. */
  readonly hostAddress: string;
  readonly prefixLength: number;
  /** An address free for the guest in the same network (host address + 1). */
  readonly guestAddress: string;
  /** argv that runs `command args` inside the namespace. */
  command(command: string, args?: string[]): string[];
  /** Starts a process inside the namespace; it is killed (SIGKILL) by remove() if still running. */
  spawn(command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** Runs a command inside the namespace to its end; rejects with its stderr on a non-zero exit. */
  run(command: string, args: string[], options?: { timeoutMs?: number }): Promise<{ stdout: string; stderr: string }>;
  /** qemu's NIC on this network's tap: `-netdev tap,...,script=no,downscript=no -device virtio-net-pci`. */
  qemuArgs(mac?: string): string[];
  /**
   * A namespace of its own whose `eth0` is a veth on the bridge, not configured: a guest without
   * qemu, for host-side tests of concierge's network (its PID 1 harness runs in a named namespace).
   */
  addPeer(): Promise<string>;
  /** Kills what spawn() started and deletes the namespace (and its peers) with everything in it. */
  remove(): Promise<void>;
}

export async function createTestNet(tag: string, options: TestNetOptions = {}): Promise<TestNet> {
  const name = `concierge-${tag}-${process.pid}-${made++}`;
  const hostAddress = options.hostAddress ?? '10.88.0.1';
  const prefixLength = options.prefixLength ?? 24;
  const octets = hostAddress.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 254)) throw new Error(`testnet: ${hostAddress} is not an IPv4 address below .255`);
  const guestAddress = [...octets.slice(0, 3), octets[3]! + 1].join('.');
  const { stdout } = await execFileAsync('bash', [script, 'up', name, `${hostAddress}/${prefixLength}`]);
  const fields = new Map(stdout.trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
  const children = new Set<ChildProcess>();
  const peers: string[] = [];
  const command = (cmd: string, args: string[] = []): string[] => ['ip', 'netns', 'exec', name, cmd, ...args];
  return {
    name,
    bridge: fields.get('bridge') ?? 'br0',
    tap: fields.get('tap') ?? 'tap0',
    hostAddress,
    prefixLength,
    guestAddress,
    command,
    spawn(cmd, args, spawnOptions = {}) {
      const [ip, ...rest] = command(cmd, args);
      const child = spawn(ip!, rest, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    async run(cmd, args, runOptions = {}) {
      const [ip, ...rest] = command(cmd, args);
      return execFileAsync(ip!, rest, { timeout: runOptions.timeoutMs ?? 30_000 });
    },
    qemuArgs(mac = '52:54:00:12:34:56') {
      return ['-netdev', `tap,id=net0,ifname=${fields.get('tap') ?? 'tap0'},script=no,downscript=no`, '-device', `virtio-net-pci,netdev=net0,mac=${mac}`];
    },
    async addPeer() {
      const peer = `${name}-p${peers.length}`;
      await execFileAsync('bash', [script, 'peer', name, peer]);
      peers.push(peer);
      return peer;
    },
    async remove() {
      await Promise.all([...children].map((child) => new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      })));
      await execFileAsync('bash', [script, 'down', name, ...peers]);
    },
  };
}
