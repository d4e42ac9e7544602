// A stand-in for qemu-system-x86_64 in `concierge vm`'s tests (bundled and put first on PATH): it serves
// the guest's own control routes on the host channel's chardev socket (HTTP/2, one session per
// connection, as the guest's port gives one per host session) and never powers off: a POST /shutdown is
// answered 202 and only noted, so what ends it is the host's stop deadline or a second signal.
// With STAND_IN_CHANNEL=none it never opens the channel (a guest that never came up).
import { createServer } from 'node:net';
import { dispatch } from '../../concierge/control/http.js';
import { EventLog } from '../../concierge/events/event-log.js';
import { http2ControlServer } from '../../concierge/hostchannel/http2-server.js';
import { InstanceMetrics } from '../../concierge/metrics/instance-metrics.js';
import { instanceRoutes } from '../../concierge/supervise/control-routes.js';

const say = (line: string): boolean => process.stderr.write(`stand-in: ${line}\n`);
const chardev = process.argv.find((a) => a.startsWith('socket,id=hostchannel,'));
const path = chardev === undefined ? undefined : /(?:^|,)path=([^,]+)/.exec(chardev)?.[1];
if (path === undefined) {
  say(`no host channel chardev in ${JSON.stringify(process.argv.slice(2))}`);
  process.exit(3);
}
say('booted');
if (process.env.STAND_IN_CHANNEL === 'none') {
  setInterval(() => undefined, 60_000);
} else {
  const events = new EventLog();
  let state = 'running';
  const routes = dispatch([instanceRoutes({
    status: () => ({ state }),
    shutdown: (reason) => {
      if (state !== 'running') return false;
      state = 'shutting down';
      say(`asked to shut down: ${reason}`);
      events.emit('shutdown.started', { reason });
      return true;
    },
  }, events, new InstanceMetrics())]);
  const server = http2ControlServer((req, res) => {
    // The host follows events once its session is up: from then on it can ask for a shutdown.
    if (req.url?.startsWith('/events') === true) say('events followed');
    routes(req, res);
  });
  createServer((socket) => server.accept(socket)).listen(path);
}
