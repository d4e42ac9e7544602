// Where the control API is served: a unix socket in concierge's run directory (never mounted into a
// workload) and the host channel, a virtio-serial port named concierge.0 when the VMM offers one.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { dispatch, listenUnix, type ControlHandler } from '../control/http.js';
import { loadModules } from '../boot/modules.js';
import { HostChannel } from '../hostchannel/byte-channel.js';
import { http2ControlServer, serveHttp2 } from '../hostchannel/http2-server.js';
import { listenVsock } from '../hostchannel/vsock.js';
import { defaultPortName, openPort, waitForVirtioPort } from '../hostchannel/virtio-serial.js';
import { log } from '../log/logger.js';

/** How long the port may take to appear once its driver is loaded (the device names ports afterwards). */
const portWaitMs = 5000;

export interface ControlServers {
  /** True while a host session is open on the channel. */
  readonly hostConnected: boolean;
  close(): Promise<void>;
}

export async function serveControl(socketPath: string, handlers: ControlHandler[], vsockPort?: number): Promise<ControlServers> {
  // Only root reads concierge's run directory: the socket answers anyone who can reach it.
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  const listener = dispatch(handlers);
  const unix = await listenUnix(socketPath, listener);
  log.info({ socket: socketPath }, 'control API listening');
  let channel: HostChannel | undefined;
  let http2: { close(): void } | undefined;
  let vsock: { close(): void } | undefined;
  if (vsockPort !== undefined) {
    try {
      const server = http2ControlServer(listener);
      const listening = listenVsock(vsockPort, (socket) => server.accept(socket));
      vsock = { close: () => { listening.close(); server.close(); } };
      log.info({ vsockPort }, 'control API on vsock');
    } catch (err) {
      log.warn({ vsockPort, err: (err as Error).message }, 'control API not on vsock');
    }
  }
  let sessionsOpen = 0;
  const startChannel = async (): Promise<void> => {
    try {
      loadModules(['virtio_pci', 'virtio_console']);
    } catch (err) {
      log.info({ err: (err as Error).message }, 'host channel: no virtio_console driver; control API on the unix socket only');
      return;
    }
    const device = await waitForVirtioPort(defaultPortName, portWaitMs);
    if (device === undefined) {
      log.info({ port: defaultPortName }, 'host channel: no such virtio-serial port; control API on the unix socket only');
      return;
    }
    channel = new HostChannel(await openPort(device));
    channel.on('session', (s) => {
      sessionsOpen++;
      s.once('close', () => sessionsOpen--);
    });
    http2 = serveHttp2(channel, listener);
    channel.start();
    log.info({ device, port: defaultPortName }, 'control API on the host channel');
  };
  void startChannel().catch((err: Error) => log.error({ err: err.message }, 'host channel failed to start'));
  return {
    get hostConnected() {
      return sessionsOpen > 0;
    },
    close: async () => {
      http2?.close();
      vsock?.close();
      channel?.close();
      await unix.close();
    },
  };
}
