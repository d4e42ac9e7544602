/**
 * testcontainers-node with its reaper, run twice: on the host straight at a dockerd, and inside a job
 * (host network) against its own socket. The test session runs in a child process, as a CI job runs
 * its tests: it starts a sibling with a published port and reaches it on the host testcontainers
 * names; testcontainers starts its reaper (RYUK_CONTAINER_IMAGE: the test's stand-in), bind-mounting
 * the docker socket it uses into it, and tells it the session's label. The session hands its id to
 * the test (HANDOFF/session) and ends when told (HANDOFF/go); its end drops the reaper's connection,
 * and the reaper removes what carries the session's label. This process then waits, through the same
 * socket, until nothing of the session is left, and prints "### <section>" lines followed by JSON.
 * Environment: M (marker), IMG (a busybox image), HANDOFF (a directory shared with the test).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { GenericContainer, Wait } from 'testcontainers';

const { M: marker, IMG: image, HANDOFF: handoff } = process.env;
if (!marker || !image || !handoff) throw new Error('M, IMG and HANDOFF are required');
const section = (name: string, value: unknown) => process.stdout.write(`### ${name}\n${JSON.stringify(value, null, 1)}\n`);
const socketPath = process.env.DOCKER_HOST ? process.env.DOCKER_HOST.replace(/^unix:\/\//, '') : '/var/run/docker.sock';
const docker = new Docker({ socketPath });
const SESSION = 'org.testcontainers.session-id';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (process.argv[2] === 'session') {
  const started = await new GenericContainer(image)
    .withName(`${marker}-reaped`)
    .withExposedPorts(8080)
    // busybox httpd listens before it goes to the background: once "started" is logged, it answers.
    .withCommand(['sh', '-c', 'mkdir -p /www && echo reached > /www/index.html && httpd -p 8080 -h /www && echo started && exec sleep 600'])
    .withWaitStrategy(Wait.forLogMessage('started'))
    .start();
  const host = started.getHost();
  const reached = await fetch(`http://${host}:${started.getMappedPort(8080)}/index.html`).then((r) => r.text(), (e: Error) => `unreachable: ${e.message}`);
  const session = started.getLabels()[SESSION]!;
  const ours = await docker.listContainers({ all: true, filters: { label: [`${SESSION}=${session}`] } });
  section('session', {
    host,
    reached,
    containers: ours.map((c) => c.Names[0]!.replace(/^\/testcontainers-ryuk-.*/, '<reaper>')).sort(),
  });
  writeFileSync(`${handoff}/session`, session);
  for (let i = 0; i < 600 && !existsSync(`${handoff}/go`); i++) await sleep(100);
  // The reaper's socket is unref'd: the session ends here, and with it the reaper's connection.
} else {
  const run = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'session'], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
  process.stdout.write(run.stdout);
  if (run.status !== 0) throw new Error(`the session exited ${run.status}`);
  const session = readFileSync(`${handoff}/session`, 'utf8');
  let left: string[] = [];
  for (let i = 0; i < 600; i++) {
    left = (await docker.listContainers({ all: true, filters: { label: [`${SESSION}=${session}`] } })).map((c) => c.Names[0]!);
    if (left.length === 0) break;
    await sleep(100);
  }
  section('after the session', { left });
}
