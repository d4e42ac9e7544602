import { spawn } from 'node:child_process';
import { log } from '../log/logger.js';

/**
 * Hooks the PID 1 tests turn on through the environment; inert otherwise.
 * - CONCIERGE_TEST_ORPHANS="<children>x<orphans>": spawn that many children through child_process,
 *   each double-forking that many orphans (which re-parent to PID 1) and exiting with code i % 7;
 *   logs whether every child's `exit` event fired with its code (tini's reaping stages as the model).
 * - CONCIERGE_TEST_THROW_AFTER_MS=<ms>: throw an uncaught error that long after boot.
 */
export function runTestHooks(): void {
  const orphans = process.env.CONCIERGE_TEST_ORPHANS;
  if (orphans !== undefined) void spawnOrphans(orphans);
  const throwAfter = process.env.CONCIERGE_TEST_THROW_AFTER_MS;
  if (throwAfter !== undefined) {
    setTimeout(() => {
      throw new Error('injected test error (CONCIERGE_TEST_THROW_AFTER_MS)');
    }, Number(throwAfter));
  }
}

async function spawnOrphans(shape: string): Promise<void> {
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
  log.info({ testHook: 'orphans', children, orphans: children * each, exitEvents: matched }, `test orphans: ${matched}/${children} exit events with the right code`);
}
