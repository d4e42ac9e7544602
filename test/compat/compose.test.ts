/**
 * Debian's docker-compose (1.29, docker-py underneath) brings a two-service project up and down,
 * straight at dockerd and through the proxy: a bind mount, a named volume shared by both services,
 * exec, logs, ps, and `down -v` removing it all.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { docker28 } from './harness/images.js';
import { runCommand } from '../lib/run-command.js';
import { compareTargets, outcomeOf } from './harness/scenario.js';
import { type CompatRun, type Target } from './harness/targets.js';
import { startRunWithImage, stopRun } from './harness/suite.js';

const dockerCompose = '/usr/bin/docker-compose';
let run: CompatRun;
let image: string;

beforeAll(async () => {
  ({ run, image } = await startRunWithImage());
});

afterAll(() => stopRun(run));

function writeProject(t: Target): string {
  const dir = join(t.dir, 'compose');
  mkdirSync(join(dir, 'site'), { recursive: true });
  writeFileSync(join(dir, 'site', 'index.txt'), 'from the bind mount\n');
  writeFileSync(
    join(dir, 'docker-compose.yml'),
    `version: "3.7"
services:
  web:
    image: ${image}
    # sleep as PID 1 ignores SIGTERM: without this, down waits out the 10 s stop timeout.
    stop_signal: SIGKILL
    command: ["sh", "-c", "cp /site/index.txt /data/shared.txt && echo web-ready && exec sleep 600"]
    volumes:
      - ./site:/site:ro
      - data:/data
  worker:
    image: ${image}
    depends_on: [web]
    stop_signal: SIGKILL
    command: ["sh", "-c", "while [ ! -s /data/shared.txt ]; do sleep 0.1; done; echo worker-saw: $$(cat /data/shared.txt); exec sleep 600"]
    volumes:
      - data:/data
volumes:
  data: {}
`,
  );
  return dir;
}

it('docker-compose up, ps, exec, logs, down -v of a two-service project', async () => {
  const { normalized } = await compareTargets(run, async (t) => {
    const dir = writeProject(t);
    const project = t.name('compose');
    const compose = (args: string[]) =>
      runCommand([dockerCompose, '--no-ansi', '-p', project, ...args], { cwd: dir, env: t.env({ COMPOSE_INTERACTIVE_NO_CLI: '1' }), timeoutMs: 120_000 });
    const up = await compose(['up', '-d']);
    const ps = await compose(['ps']);
    // The worker reads what the web service copied from its bind mount into the shared volume.
    const seen = await compose(['exec', '-T', 'worker', 'sh', '-c', 'while [ ! -s /data/shared.txt ]; do sleep 0.1; done; cat /data/shared.txt']);
    const webLogs = await compose(['logs', '--no-color', 'web']);
    const volumes = await runCommand([docker28, 'volume', 'ls', '--filter', `name=${project}`, '--format', '{{.Name}} {{.Driver}}'], { env: t.env() });
    const down = await compose(['down', '-v']);
    const left = await runCommand([docker28, 'ps', '-a', '-q', '--filter', `name=${project}`], { env: t.env() });
    const leftVolumes = await runCommand([docker28, 'volume', 'ls', '-q', '--filter', `name=${project}`], { env: t.env() });
    // `up -d` creates the two services one after the other (depends_on), but `down` stops and
    // removes them in parallel: its progress lines come in the order the threads finish.
    const downLines = outcomeOf(down);
    downLines.stderr = down.stderr.split('\n').sort().join('\n');
    return {
      up: outcomeOf(up),
      ps: outcomeOf(ps),
      seen: outcomeOf(seen),
      webLogs: outcomeOf(webLogs),
      volumes: outcomeOf(volumes),
      down: downLines,
      left: outcomeOf(left),
      leftVolumes: outcomeOf(leftVolumes),
    };
  });
  expect(normalized.up.code).toBe(0);
  expect(normalized.seen.stdout).toBe('from the bind mount\n');
  expect(normalized.webLogs.stdout).toContain('web-ready');
  expect(normalized.volumes.stdout).toBe('compat-<run>-compose_data local\n');
  expect(normalized.down.code).toBe(0);
  expect(normalized.left.stdout).toBe('');
  expect(normalized.leftVolumes.stdout).toBe('');
});
