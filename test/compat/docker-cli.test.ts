/**
 * Both docker CLIs on the machine (28.x and Debian's 20.10) run the same scenarios straight at
 * dockerd, through `concierge proxy` and through a workload's caller socket; every outcome must be
 * identical once ids, times and the run's names are normalized.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerCli, type DockerCli } from './harness/docker-cli.js';
import { summarizeBuildkitProgress } from './harness/buildkit-progress.js';
import { sha256File, writeRandomFile } from './harness/files.js';
import { docker20, docker28 } from './harness/images.js';
import { runCommand } from '../lib/run-command.js';
import { compareTargets, outcomeOf } from './harness/scenario.js';
import { type CompatRun, type Target } from './harness/targets.js';
import { startRunWithImage, stopRun } from './harness/suite.js';

let run: CompatRun;
let image: string;
let bigFile: string;
let bigSha: string;
let contextFile: string;
let contextSha: string;

beforeAll(async () => {
  ({ run, image } = await startRunWithImage());
  bigFile = join(run.direct.dir, '..', `compat-${run.runId}-64m.bin`);
  bigSha = writeRandomFile(bigFile, 64 << 20);
  contextFile = join(run.direct.dir, '..', `compat-${run.runId}-context.bin`);
  contextSha = writeRandomFile(contextFile, 4 << 20);
});

afterAll(async () => {
  if (run) await runCommand(['rm', '-f', bigFile, contextFile]);
  await stopRun(run);
});

/** Removes a scenario's containers as it ends, so the second target does not share the machine with them. */
async function removeContainers(cli: DockerCli, t: Target, ...names: string[]) {
  await cli.run(t, ['rm', '-f', ...names]);
}

describe.each([
  ['docker 28.x', docker28],
  ['docker 20.10', docker20],
])('%s', (_cliName, bin) => {
  const cli = dockerCli(bin);
  const v = bin === docker28 ? '28' : '20';

  it('run: exit code, stdout and stderr', async () => {
    const { normalized } = await compareTargets(run, async (t) =>
      outcomeOf(await cli.run(t, ['run', '--rm', '--name', t.name(`run${v}`), image, 'sh', '-c', 'echo out; echo err >&2; exit 3'])),
    );
    expect(normalized).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('run with stdin piped (4 MiB)', async () => {
    const { normalized } = await compareTargets(
      run,
      async (t) =>
        outcomeOf(
          await cli.run(t, ['run', '--rm', '-i', '--name', t.name(`stdin${v}`), image, 'sh', '-c', 'tee /tmp/in | sha256sum; wc -c < /tmp/in'], {
            inputFile: contextFile,
          }),
        ),
      { preserve: [contextSha] },
    );
    expect(normalized).toMatchObject({ code: 0, stdout: `${contextSha}  -\n${4 << 20}\n` });
  });

  it('run -t under a pseudo-terminal', async () => {
    const { normalized } = await compareTargets(run, async (t) =>
      outcomeOf(await cli.runInTerminal(t, ['run', '--rm', '-t', '--name', t.name(`tty${v}`), image, 'sh', '-c', 'tty; echo hi; exit 5'])),
    );
    expect(normalized).toMatchObject({ code: 5 });
    expect(normalized.stdout).toMatch(/^\/dev\/pts\/0\r+\nhi\r+\n$/);
  });

  it('exec with and without -i', async () => {
    const { normalized } = await compareTargets(run, async (t) => {
      const name = t.name(`exec${v}`);
      const started = await cli.run(t, ['run', '-d', '--name', name, image, 'sleep', '600']);
      const plain = await cli.run(t, ['exec', name, 'sh', '-c', 'echo out; echo err >&2; exit 4']);
      const interactive = await cli.run(t, ['exec', '-i', name, 'sh', '-c', 'cat; echo end'], { input: 'line1\nline2\n' });
      const detached = await cli.run(t, ['exec', '-d', name, 'sh', '-c', 'echo bg > /tmp/bg']);
      const afterDetached = await cli.run(t, ['exec', name, 'sh', '-c', 'while [ ! -s /tmp/bg ]; do sleep 0.1; done; cat /tmp/bg']);
      await removeContainers(cli, t, name);
      return {
        started: outcomeOf(started),
        plain: outcomeOf(plain),
        interactive: outcomeOf(interactive),
        detached: outcomeOf(detached),
        afterDetached: outcomeOf(afterDetached),
      };
    });
    expect(normalized.plain).toEqual({ code: 4, stdout: 'out\n', stderr: 'err\n' });
    expect(normalized.interactive).toEqual({ code: 0, stdout: 'line1\nline2\nend\n', stderr: '' });
    expect(normalized.afterDetached).toMatchObject({ stdout: 'bg\n' });
  });

  it('attach', async () => {
    const { normalized } = await compareTargets(run, async (t) => {
      const name = t.name(`attach${v}`);
      const started = await cli.run(t, ['run', '-d', '-i', '--name', name, image, 'sh', '-c', 'read line; echo "got $line"; echo bye >&2; exit 2']);
      const attached = await cli.run(t, ['attach', name], { inputKeptOpen: 'hello\n' });
      await removeContainers(cli, t, name);
      return { started: outcomeOf(started), attached: outcomeOf(attached) };
    });
    expect(normalized.attached).toEqual({ code: 2, stdout: 'got hello\n', stderr: 'bye\n' });
  });

  it('logs, logs --timestamps --tail, logs -f', async () => {
    const { normalized } = await compareTargets(run, async (t) => {
      const name = t.name(`logs${v}`);
      const ran = await cli.run(t, ['run', '--name', name, image, 'sh', '-c', 'echo o1; echo e1 >&2; sleep 0.2; echo o2']);
      const logs = await cli.run(t, ['logs', name]);
      const tail = await cli.run(t, ['logs', '--timestamps', '--tail', '1', name]);
      const follow = t.name(`logsf${v}`);
      await cli.run(t, ['run', '-d', '--name', follow, image, 'sh', '-c', 'for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done; echo done >&2']);
      const followed = await cli.run(t, ['logs', '-f', follow]);
      await removeContainers(cli, t, name, follow);
      return { ran: outcomeOf(ran), logs: outcomeOf(logs), tail: outcomeOf(tail), followed: outcomeOf(followed) };
    });
    expect(normalized.logs).toEqual({ code: 0, stdout: 'o1\no2\n', stderr: 'e1\n' });
    expect(normalized.followed).toEqual({ code: 0, stdout: 'line 1\nline 2\nline 3\nline 4\nline 5\n', stderr: 'done\n' });
  });

  it('cp in and out of a 64 MiB file keeps its sha256', async () => {
    const { normalized } = await compareTargets(
      run,
      async (t) => {
        const name = t.name(`cp${v}`);
        const started = await cli.run(t, ['run', '-d', '--name', name, image, 'sleep', '600']);
        const copyIn = await cli.run(t, ['cp', bigFile, `${name}:/tmp/big.bin`]);
        const inside = await cli.run(t, ['exec', name, 'sha256sum', '/tmp/big.bin']);
        const out = join(t.dir, `cp${v}-out.bin`);
        const copyOut = await cli.run(t, ['cp', `${name}:/tmp/big.bin`, out]);
        const outSha = await sha256File(out).catch((e: Error) => e.message);
        await runCommand(['rm', '-f', out]);
        await removeContainers(cli, t, name);
        return {
          started: outcomeOf(started),
          copyIn: outcomeOf(copyIn),
          inside: outcomeOf(inside),
          copyOut: outcomeOf(copyOut),
          outSha,
        };
      },
      { preserve: [bigSha] },
    );
    expect(normalized.inside).toMatchObject({ code: 0, stdout: `${bigSha}  /tmp/big.bin\n` });
    expect(normalized.outSha).toBe(bigSha);
  });

  const builders: Array<[string, string]> = [['classic builder', '0']];
  // Only the 20.10 CLI carries its own BuildKit client (/session, /grpc); 28.x needs buildx.
  if (bin === docker20) builders.push(['BuildKit', '1']);
  it.each(builders)('build with the %s', async (_builder, buildkit) => {
    const { normalized } = await compareTargets(
      run,
      async (t) => {
        const tag = t.name(`build${buildkit}${v}`);
        const context = join(t.dir, `build${buildkit}${v}`);
        mkdirSync(context, { recursive: true });
        await runCommand(['cp', contextFile, join(context, 'payload.bin')]);
        writeFileSync(
          join(context, 'Dockerfile'),
          [`FROM ${image}`, 'COPY payload.bin /payload.bin', 'RUN sha256sum /payload.bin > /built', 'CMD ["cat", "/built"]', ''].join('\n'),
        );
        const args = ['build', '--no-cache', '-t', tag];
        if (buildkit === '1') args.push('--progress=plain');
        const built = await cli.run(t, [...args, context], { env: { DOCKER_BUILDKIT: buildkit } });
        const ran = await cli.run(t, ['run', '--rm', tag]);
        await cli.run(t, ['rmi', tag]);
        await runCommand(['rm', '-rf', context]);
        const progress = buildkit === '1' ? summarizeBuildkitProgress(built.stderr) : built.stderr;
        return { built: { ...outcomeOf(built), stderr: progress }, ran: outcomeOf(ran) };
      },
      { preserve: [contextSha] },
    );
    expect(normalized.built).toMatchObject({ code: 0 });
    expect(normalized.ran).toEqual({ code: 0, stdout: `${contextSha}  /payload.bin\n`, stderr: '' });
  });

  it('events (streamed, then ended by the client)', async () => {
    const { normalized } = await compareTargets(run, async (t) => {
      const name = t.name(`events${v}`);
      const since = String(Math.floor(Date.now() / 1000) - 1);
      const events = cli.start(t, ['events', '--since', since, '--filter', `container=${name}`, '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']);
      const ran = await cli.run(t, ['run', '--rm', '--network', 'none', '--name', name, image, 'true']);
      await events.waitForStdout(/destroy/);
      events.child.kill('SIGTERM');
      const ended = await events.done;
      return { ran: outcomeOf(ran), events: ended.stdout };
    });
    expect(normalized.events).toMatch(/container create compat-<run>-events\d+\n(.*\n)*container destroy/);
  });

  it('wait', async () => {
    const { normalized } = await compareTargets(run, async (t) => {
      const name = t.name(`wait${v}`);
      await cli.run(t, ['run', '-d', '--name', name, image, 'sh', '-c', 'sleep 0.5; exit 7']);
      const waited = await cli.run(t, ['wait', name]);
      await removeContainers(cli, t, name);
      return outcomeOf(waited);
    });
    expect(normalized).toEqual({ code: 0, stdout: '7\n', stderr: '' });
  });

  it('inspect a container and an image', async () => {
    const { normalized } = await compareTargets(run, async (t) => {
      const name = t.name(`inspect${v}`);
      await cli.run(t, ['create', '--name', name, '--network', 'none', '--label', 'compat=yes', '-e', 'A=1', image, 'sh', '-c', 'echo hi']);
      const container = await cli.run(t, ['inspect', name]);
      const formatted = await cli.run(t, ['inspect', '--format', '{{.Name}} {{.State.Status}} {{json .Config.Cmd}} {{.Config.Labels.compat}}', name]);
      const img = await cli.run(t, ['inspect', '--type', 'image', image]);
      const missing = await cli.run(t, ['inspect', t.name('no-such-thing')]);
      await removeContainers(cli, t, name);
      return {
        container: { ...outcomeOf(container), stdout: JSON.parse(container.stdout) as unknown },
        formatted: outcomeOf(formatted),
        image: { ...outcomeOf(img), stdout: JSON.parse(img.stdout) as unknown },
        missing: outcomeOf(missing),
      };
    });
    expect(normalized.formatted.stdout).toBe('/compat-<run>-inspect' + v + ' created ["sh","-c","echo hi"] yes\n');
    expect(normalized.missing.code).not.toBe(0);
  });

  it('stats --no-stream', async () => {
    const { normalized } = await compareTargets(run, async (t) => {
      const name = t.name(`stats${v}`);
      await cli.run(t, ['run', '-d', '--name', name, image, 'sleep', '600']);
      const table = await cli.run(t, ['stats', '--no-stream', name]);
      await removeContainers(cli, t, name);
      // Usage figures are live readings, not outputs: keep the header, the id and name columns,
      // and the number of columns.
      const [header = '', ...rows] = table.stdout.split('\n');
      const shape = [header, ...rows.map((row) => row.split(/\s{2,}/).map((col, i) => (i < 2 ? col : '#')).join(' | '))].join('\n');
      return { ...outcomeOf(table), stdout: shape };
    });
    expect(normalized.code).toBe(0);
    expect(normalized.stdout).toMatch(new RegExp(`^CONTAINER ID +NAME +CPU % .*\n<short1> \\| compat-<run>-stats${v} \\| # \\| # \\| # \\| # \\| # \\| #\n$`));
  });

  it('network create, ls, inspect, rm', async () => {
    const { normalized } = await compareTargets(run, async (t) => {
      const name = t.name(`net${v}`);
      const created = await cli.run(t, ['network', 'create', '--label', 'compat=yes', name]);
      const listed = await cli.run(t, ['network', 'ls', '--filter', `name=${name}`, '--format', '{{.Name}} {{.Driver}} {{.Scope}}']);
      const inspected = await cli.run(t, ['network', 'inspect', '--format', '{{.Name}} {{.Driver}} {{.Labels.compat}}', name]);
      const removed = await cli.run(t, ['network', 'rm', name]);
      const after = await cli.run(t, ['network', 'ls', '-q', '--filter', `name=${name}`]);
      return { created: outcomeOf(created), listed: outcomeOf(listed), inspected: outcomeOf(inspected), removed: outcomeOf(removed), after: outcomeOf(after) };
    });
    expect(normalized.listed.stdout).toBe(`compat-<run>-net${v} bridge local\n`);
    expect(normalized.after.stdout).toBe('');
  });

  it('volume create, ls, inspect, rm', async () => {
    const { normalized } = await compareTargets(run, async (t) => {
      const name = t.name(`vol${v}`);
      const created = await cli.run(t, ['volume', 'create', '--label', 'compat=yes', name]);
      const listed = await cli.run(t, ['volume', 'ls', '--filter', `name=${name}`]);
      const inspected = await cli.run(t, ['volume', 'inspect', name]);
      const removed = await cli.run(t, ['volume', 'rm', name]);
      const after = await cli.run(t, ['volume', 'ls', '-q', '--filter', `name=${name}`]);
      return {
        created: outcomeOf(created),
        listed: outcomeOf(listed),
        inspected: { ...outcomeOf(inspected), stdout: JSON.parse(inspected.stdout) as unknown },
        removed: outcomeOf(removed),
        after: outcomeOf(after),
      };
    });
    expect(normalized.created.stdout).toBe(`compat-<run>-vol${v}\n`);
    expect(normalized.after.stdout).toBe('');
  });

  it('export', async () => {
    const { normalized } = await compareTargets(run, async (t) => {
      const name = t.name(`export${v}`);
      await cli.run(t, ['create', '--name', name, image]);
      const file = join(t.dir, `export${v}.tar`);
      const exported = await cli.run(t, ['export', '-o', file, name]);
      const listing = await runCommand(['tar', '-tvf', file]);
      await runCommand(['rm', '-f', file]);
      await removeContainers(cli, t, name);
      // Files dockerd makes at create (/.dockerenv, /etc/hosts, ...) carry that moment as mtime.
      const entries = listing.stdout.replace(/\d{4}-\d\d-\d\d \d\d:\d\d/g, '<mtime>');
      return { exported: outcomeOf(exported), entries };
    });
    expect(normalized.entries).toMatch(/ bin\/busybox\n/);
  });

  it('commit', async () => {
    const { normalized } = await compareTargets(run, async (t) => {
      const name = t.name(`commit${v}`);
      const committedImage = t.name(`commit${v}-img`);
      await cli.run(t, ['run', '--name', name, image, 'sh', '-c', 'echo committed-data > /data']);
      const committed = await cli.run(t, ['commit', '-c', 'CMD ["cat", "/data"]', '-m', 'compat', name, committedImage]);
      const ran = await cli.run(t, ['run', '--rm', committedImage]);
      const config = await cli.run(t, ['image', 'inspect', '--format', '{{json .Config.Cmd}} {{.Comment}}', committedImage]);
      await removeContainers(cli, t, name);
      const removed = await cli.run(t, ['rmi', committedImage]);
      return { committed: outcomeOf(committed), ran: outcomeOf(ran), config: outcomeOf(config), removed: outcomeOf(removed) };
    });
    expect(normalized.ran.stdout).toBe('committed-data\n');
    expect(normalized.config.stdout).toBe('["cat","/data"] compat\n');
  });

  it('a container killed mid-stream ends run and logs -f', async () => {
    const { normalized } = await compareTargets(run, async (t) => {
      const name = t.name(`killed${v}`);
      const attached = cli.start(t, ['run', '--name', name, image, 'sh', '-c', 'while :; do echo tick; sleep 0.1; done']);
      await attached.waitForStdout(/tick\n/);
      const follower = cli.start(t, ['logs', '-f', name]);
      await follower.waitForStdout(/tick\n/);
      const killed = await cli.run(t, ['kill', name]);
      const [ran, followed] = await Promise.all([attached.done, follower.done]);
      const state = await cli.run(t, ['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name]);
      await removeContainers(cli, t, name);
      // How many ticks make it out depends on the clock; which lines, and how each stream ends, does not.
      const distinctLines = (s: string) => [...new Set(s.split('\n'))].join('\n');
      return {
        killed: outcomeOf(killed),
        ran: { ...outcomeOf(ran), stdout: distinctLines(ran.stdout) },
        followed: { ...outcomeOf(followed), stdout: distinctLines(followed.stdout) },
        state: outcomeOf(state),
      };
    });
    expect(normalized.ran).toMatchObject({ code: 137, stdout: 'tick\n' });
    expect(normalized.followed).toMatchObject({ code: 0, stdout: 'tick\n' });
    expect(normalized.state.stdout).toBe('exited 137\n');
  });

});
