/**
 * A test-only entry point: concierge's init, exactly as `concierge init` runs it, plus what the PID 1
 * tests need from inside the process, so that nothing of it ships in concierge:
 * - `--children <n>x<orphans>`: once the instance runs, n children started through child_process, each
 *   double-forking that many orphans (which re-parent to PID 1) and exiting with code i % 7 (tini's
 *   reaping stage 1); logs whether every child's `exit` event fired with its code.
 * - `--throw-after <ms>`: an uncaught error that long after start.
 * harness.ts bundles it with esbuild (CommonJS, as dist/concierge.js) and runs the bundle on node as PID 1.
 * Usage: node <bundle> [--children <n>x<orphans>] [--throw-after <ms>]
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { run as init } from '../../concierge/cli/init.js';
import { log } from '../../concierge/log/logger.js';

const { values } = parseArgs({ options: { children: { type: 'string' }, 'throw-after': { type: 'string' } }, strict: true });

async function spawnChildren(shape: string): Promise<void> {
  const [children = 0, each = 0] = shape.split('x').map(Number);
  const script = `i=0; while [ $i -lt ${each} ]; do (sleep 0.0$((i % 5)) &) ; i=$((i+1)); done; exit $1`;
  const exits = await Promise.all(
    Array.from({ length: children }, (_, i) => new Promise<boolean>((resolve) => {
      const child = spawn('/bin/sh', ['-c', script, 'sh', String(i % 7)], { stdio: 'ignore' });
      child.once('exit', (code) => resolve(code === i % 7));
      child.once('error', () => resolve(false));
    })),
  );
  const matched = exits.filter(Boolean).length;
  log.info({ testEntry: 'children', children, orphans: children * each, exitEvents: matched }, `test children: ${matched}/${children} exit events with the right code`);
}

void init([]);
// init has installed the child registry and the reaper synchronously: children spawned now race the reaper.
if (values.children !== undefined) void spawnChildren(values.children);
const throwAfter = values['throw-after'];
if (throwAfter !== undefined) {
  setTimeout(() => {
    throw new Error('injected test error (--throw-after)');
  }, Number(throwAfter));
}
