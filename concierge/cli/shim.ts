// `concierge shim` (also the binary run as containerd-shim-concierge-v1): containerd's runtime v2 shim
// for io.containerd.concierge.v1. `start` starts or finds the shim server, `delete` cleans up after a
// dead one, and the server (`serve`, started by `start`) answers the Task service over ttrpc.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as sea from 'node:sea';
import { log } from '../log/logger.js';
import { EventPublisher } from '../shim/events.js';
import { parseShimFlags, type ShimFlags } from '../shim/shim-flags.js';
import { deleteShimState } from '../shim/shim-delete.js';
import { guestImage, shimSocket, shimStateDir } from '../shim/shim-paths.js';
import { startShim } from '../shim/shim-start.js';
import { removeShimState } from '../shim/state-removal.js';
import { TaskService } from '../shim/task-service.js';
import { TtrpcServer } from '../shim/ttrpc-server.js';
import { UsageError } from './usage-error.js';

/** This binary again, as `concierge shim <flags> serve` (the bundle script after node when not a single executable). */
function selfCommand(flags: string[]): { file: string; args: string[] } {
  const lead = sea.isSea() || process.argv[1] === undefined ? [] : [process.argv[1]];
  return { file: process.execPath, args: [...lead, 'shim', ...flags, 'serve'] };
}

async function serve(flags: ShimFlags): Promise<void> {
  const stateDir = shimStateDir(flags.bundle);
  const socket = shimSocket(flags.bundle);
  rmSync(socket, { force: true });
  const server = new TtrpcServer();
  const events = new EventPublisher(process.env.TTRPC_ADDRESS, flags.namespace);
  const tasks = new TaskService({
    image: guestImage(), stateDir, events,
    memoryMb: Number(process.env.CONCIERGE_SHIM_MEMORY_MB ?? 2048), cpus: Number(process.env.CONCIERGE_SHIM_CPUS ?? 1),
    onShutdown: () => {
      log.info({ id: flags.id }, 'shim shutting down');
      events.close();
      // Shutdown was answered and no task is left: end, as runc's shim does (os.Exit). The task's FIFOs were
      // opened without blocking (os/fifo.ts), so no threadpool thread waits in an open() that exit would join.
      try {
        removeShimState(stateDir); // none is left after the tasks' Deletes; removing it must never reach into a rootfs or a bound directory
      } catch (err) {
        log.error({ id: flags.id, err }, 'shim state left in place');
      }
      void server.close().then(() => process.exit(0));
    },
  });
  tasks.register(server);
  await server.listen(socket);
  writeFileSync(join(stateDir, 'shim.pid'), String(process.pid));
  log.info({ id: flags.id, socket, namespace: flags.namespace }, 'shim serving');
}

export async function run(args: string[]): Promise<number | undefined> {
  const flags = parseShimFlags(args, process.cwd());
  switch (flags.action) {
    case 'start': {
      const address = await startShim(flags.bundle, selfCommand(args.filter((a) => a !== 'start')));
      process.stdout.write(address);
      return 0;
    }
    case 'delete':
      process.stdout.write(deleteShimState(flags.bundle));
      return 0;
    case 'serve':
      await serve(flags);
      return undefined;
    default:
      throw new UsageError('usage: containerd-shim-concierge-v1 -namespace <ns> -address <sock> -publish-binary <path> -id <id> [-bundle <dir>] start|delete');
  }
}
