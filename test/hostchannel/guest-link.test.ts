// The host's link over a stand-in port to the guest's real routes (events, workload output, shutdown):
// events arrive once and in order, output is caught up from the byte it had reached after the host
// reopened the channel, and the result comes from the power-off event.
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { PortStandIn } from './port-stand-in.js';
import { dispatch, type ControlHandler } from '../../concierge/control/http.js';
import { EventLog, type InstanceEvent } from '../../concierge/events/event-log.js';
import { HostChannel } from '../../concierge/hostchannel/byte-channel.js';
import { serveHttp2 } from '../../concierge/hostchannel/http2-server.js';
import { InstanceMetrics } from '../../concierge/metrics/instance-metrics.js';
import { instanceRoutes } from '../../concierge/supervise/control-routes.js';
import { streamOutput } from '../../concierge/workloads/control-api.js';
import { OutputLog } from '../../concierge/workloads/output-log.js';
import { GuestLink } from '../../concierge/vmm/guest-link.js';

const until = async (check: () => boolean, what: string | (() => string)): Promise<void> => {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
};

describe('guest link (host side of the channel)', () => {
  let cleanup: (() => void)[] = [];
  afterEach(() => { for (const c of cleanup) c(); cleanup = []; });

  it('follows events and output across a reopen without losing or repeating a byte, and takes the result from the power-off', async () => {
    const events = new EventLog();
    const output = new OutputLog();
    const shutdowns: string[] = [];
    const logs: ControlHandler = (_req, res, url, parts) => {
      if (parts[0] !== 'workloads' || parts[2] !== 'logs') return Promise.resolve(false);
      streamOutput(res, url, parts[1] === 'job' ? output : undefined);
      return Promise.resolve(true);
    };
    const port = new PortStandIn();
    const channel = new HostChannel(port, 5);
    const server = serveHttp2(channel, dispatch([
      instanceRoutes({ status: () => ({}), shutdown: (reason) => { shutdowns.push(reason); return true; } }, events, new InstanceMetrics()),
      logs,
    ]));
    channel.start();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const seen: InstanceEvent[] = [];
    const link = new GuestLink(() => port.connect(), { stdout, stderr, event: (e) => seen.push(e) });
    const running = link.run();
    cleanup.push(() => { link.stop(); channel.close(); server.close(); });

    events.emit('timeline', { name: 'containerd ready', atMs: 12 });
    events.emit('workload.started', { workload: 'job', runtime: 'runc', pid: 42, imageMs: 30, createMs: 20, startMs: 10 });
    output.append('stdout', Buffer.from('line 1\n'));
    output.append('stderr', Buffer.from('warn 1\n'));
    await until(() => out === 'line 1\n' && err === 'warn 1\n', () => `the first output (${JSON.stringify({ out, err, seen, sessions: link.sessions })})`);

    link.reopen();
    output.append('stdout', Buffer.from('line 2\n'));
    events.emit('workload.exited', { workload: 'job', exitCode: 137, signal: 'SIGKILL', oomKilled: true });
    await until(() => link.sessions >= 2 && out === 'line 1\nline 2\n' && seen.length === 3, () => `catching up after the reopen ${JSON.stringify({ out, err, seen: seen.length, sessions: link.sessions })}`);

    expect(await link.requestShutdown('host: SIGTERM')).toBe(true);
    expect(shutdowns).toEqual(['host: SIGTERM']);
    output.append('stdout', Buffer.from('line 3\n'));
    output.end();
    events.emit('poweroff', { exitCode: 137, reason: 'host request: host: SIGTERM', shutdownMs: 5 });
    await until(() => link.result !== undefined, 'the result');
    link.stop();
    await running;

    expect(out).toBe('line 1\nline 2\nline 3\n');
    expect(err).toBe('warn 1\n');
    expect(seen.map((e) => e.type)).toEqual(['timeline', 'workload.started', 'workload.exited', 'poweroff']);
    expect(seen.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(link.result).toEqual({ exitCode: 137, reason: 'host request: host: SIGTERM' });
  });
});
