/**
 * The two Node SDKs CI jobs use most, driving containers straight at dockerd and through the proxy:
 * dockerode (in this process, one client per target) and testcontainers-node (a child process per
 * target, local images only, Ryuk off).
 */
import { PassThrough } from 'node:stream';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { demuxDockerStream } from '../lib/raw-http.js';
import { runCommand } from '../lib/run-command.js';
import { compareTargets, outcomeOf } from './harness/scenario.js';
import { type CompatRun } from './harness/targets.js';
import { startRunWithImage, stopRun } from './harness/suite.js';

const here = dirname(fileURLToPath(import.meta.url));
let run: CompatRun;
let image: string;

beforeAll(async () => {
  ({ run, image } = await startRunWithImage());
});

afterAll(() => stopRun(run));

/** Collects a dockerode hijacked stream's stdout and stderr until it ends. */
function collect(docker: Docker, stream: NodeJS.ReadableStream) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  docker.modem.demuxStream(stream, stdout, stderr);
  return new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    stream.on('end', () => resolve({ stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    stream.on('error', reject);
  });
}

it('dockerode: create, attach with stdin, start, wait, logs, exec, inspect, list, remove', async () => {
  const { normalized } = await compareTargets(run, async (t) => {
    const docker = new Docker({ socketPath: t.socket });
    const ping = String(await docker.ping());
    const version = await docker.version();
    const name = t.name('dockerode');
    const container = await docker.createContainer({
      name,
      Image: image,
      Cmd: ['sh', '-c', 'cat; echo to-stderr >&2; exit 5'],
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Labels: { compat: 'dockerode' },
    });
    const stream = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
    const attached = collect(docker, stream);
    await container.start();
    // Ending stdin half-closes the hijacked connection; with StdinOnce, cat then sees EOF.
    (stream).end('piped through dockerode\n');
    const waited: unknown = await container.wait();
    const output = await attached;
    const logs = demuxDockerStream(await container.logs({ stdout: true, stderr: true, follow: false }));
    const inspected = await container.inspect();
    const listed = await docker.listContainers({ all: true, filters: { name: [name] } });

    const sleeper = await docker.createContainer({ name: t.name('dockerode-exec'), Image: image, Cmd: ['sleep', '600'] });
    await sleeper.start();
    const exec = await sleeper.exec({ Cmd: ['sh', '-c', 'cat; echo exec-done'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const execStream = await exec.start({ hijack: true, stdin: true });
    const execOutput = collect(docker, execStream);
    execStream.end('exec stdin\n');
    const execResult = await execOutput;
    const execState = await exec.inspect();
    await sleeper.remove({ force: true });
    await container.remove();
    const afterRemove = await docker.listContainers({ all: true, filters: { name: [name] } });

    return {
      ping,
      apiVersion: version.ApiVersion,
      waited,
      output,
      logs,
      inspected: { Name: inspected.Name, ExitCode: inspected.State.ExitCode, Labels: inspected.Config.Labels, Cmd: inspected.Config.Cmd },
      listed: listed.map((c) => ({ Names: c.Names, State: c.State, Image: c.Image, Labels: c.Labels })),
      exec: { output: execResult, ExitCode: execState.ExitCode, Running: execState.Running },
      afterRemove: afterRemove.length,
    };
  });
  expect(normalized.ping).toBe('OK');
  expect(normalized.waited).toMatchObject({ StatusCode: 5 });
  expect(normalized.output).toEqual({ stdout: 'piped through dockerode\n', stderr: 'to-stderr\n' });
  expect(normalized.logs).toMatchObject({ stdout: 'piped through dockerode\n', stderr: 'to-stderr\n' });
  expect(normalized.exec).toEqual({ output: { stdout: 'exec stdin\nexec-done\n', stderr: '' }, ExitCode: 0, Running: false });
  expect(normalized.afterRemove).toBe(0);
});

it('testcontainers-node: start with a wait strategy, copy, exec, logs, stop', async () => {
  const { normalized } = await compareTargets(run, async (t) => {
    const result = await runCommand([process.execPath, '--import', 'tsx', join(here, 'fixtures', 'testcontainers-scenario.ts')], {
      env: t.env({ TESTCONTAINERS_RYUK_DISABLED: 'true', COMPAT_IMAGE: image, COMPAT_NAME: t.name('testcontainers') }),
      cwd: join(here, '..', '..'),
      timeoutMs: 120_000,
    });
    const outcome = outcomeOf(result);
    // testcontainers logs its own progress (with timings) on stderr only when DEBUG is set; the
    // result is the JSON line on stdout.
    return { code: outcome.code, result: result.code === 0 ? (JSON.parse(result.stdout) as unknown) : outcome };
  });
  expect(normalized).toEqual({
    code: 0,
    result: {
      name: '/compat-<run>-testcontainers',
      labels: expect.objectContaining({ compat: 'testcontainers' }) as unknown,
      copied: { exitCode: 0, stdout: 'copied by testcontainers\n', stderr: '' },
      failing: { exitCode: 3, stdout: 'hello\n', stderr: 'oops\n' },
      logs: ['started', 'to-stderr'],
      stopped: true,
    },
  });
});
