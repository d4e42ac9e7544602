// `concierge vm` stopping a guest that does not stop by itself, against a qemu stand-in on PATH (no VM):
// after SIGTERM it asks over the host channel, then kills the VMM once --stop-timeout has passed; a
// second signal kills it at once; with no channel to ask on, it kills it straight away. Each ends with
// exit code 125 (the guest reported none).
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bundle = join(import.meta.dirname, '../../dist/concierge.js');

interface VmRun {
  waitFor(pattern: RegExp): Promise<void>;
  signal(name: NodeJS.Signals): void;
  done: Promise<{ code: number | null; output: string }>;
}

describe('concierge vm stops a guest that does not power off (qemu stand-in)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'concierge-vm-stop-'));
  const bin = join(dir, 'bin');

  beforeAll(async () => {
    if (!existsSync(bundle)) throw new Error('dist/concierge.js is missing: npm run build first');
    await build({
      entryPoints: [join(import.meta.dirname, 'qemu-stand-in.ts')], outfile: join(dir, 'qemu-stand-in.cjs'),
      bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning',
    });
    writeFileSync(join(dir, 'vmlinuz'), '');
    writeFileSync(join(dir, 'initramfs'), '');
    writeFileSync(join(dir, 'spec.json'), '{}');
    // exec: the process concierge vm kills is the stand-in itself.
    const qemu = join(bin, 'qemu-system-x86_64');
    mkdirSync(bin);
    writeFileSync(qemu, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(dir, 'qemu-stand-in.cjs'))} "$@"\n`);
    chmodSync(qemu, 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function startVm(args: string[], env: Record<string, string> = {}): VmRun {
    const child = spawn(process.execPath, [bundle, 'vm', '--kernel', join(dir, 'vmlinuz'), '--initrd', join(dir, 'initramfs'),
      '--spec', join(dir, 'spec.json'), '--accel', 'tcg', '--events', 'none', '--timeout', '120', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env, PATH: `${bin}:${process.env.PATH ?? ''}` },
    });
    let output = '';
    const waiters = new Set<{ pattern: RegExp; resolve: () => void }>();
    const take = (c: Buffer): void => {
      output += c.toString();
      for (const w of waiters) if (w.pattern.test(output)) { waiters.delete(w); w.resolve(); }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const done = new Promise<{ code: number | null; output: string }>((resolve) => child.on('close', (code) => resolve({ code, output })));
    return {
      waitFor: (pattern) => (pattern.test(output) ? Promise.resolve() : new Promise((resolve, reject) => {
        waiters.add({ pattern, resolve });
        void done.then(() => reject(new Error(`concierge vm ended before ${pattern} was printed:\n${output}`)));
      })),
      signal: (name) => child.kill(name),
      done,
    };
  }

  it('asks the guest over the host channel on SIGTERM, then kills the VMM when --stop-timeout has passed', async () => {
    const vm = startVm(['--stop-timeout', '1']);
    await vm.waitFor(/^stand-in: events followed$/m);
    vm.signal('SIGTERM');
    const { code, output } = await vm.done;
    expect(output).toMatch(/^stand-in: asked to shut down: host: SIGTERM$/m);
    expect(output).toMatch(/^concierge vm: SIGTERM: asked the guest to shut down$/m);
    expect(output).toMatch(/^concierge vm: the guest did not power off within 1 s: killing qemu$/m);
    expect(output).toMatch(/^concierge vm: the guest stopped without reporting an exit code \(qemu SIGKILL\)$/m);
    expect(code).toBe(125);
  });

  it('kills the VMM at once on a second signal during the orderly stop', async () => {
    const vm = startVm(['--stop-timeout', '600']);
    await vm.waitFor(/^stand-in: events followed$/m);
    vm.signal('SIGTERM');
    await vm.waitFor(/^concierge vm: SIGTERM: asked the guest to shut down$/m);
    vm.signal('SIGINT');
    const { code, output } = await vm.done;
    expect(output).toMatch(/^concierge vm: SIGINT again: killing qemu$/m);
    expect(output).not.toMatch(/did not power off within/);
    expect(code).toBe(125);
  });

  it('kills the VMM at once when the guest cannot be asked (no host channel)', async () => {
    const vm = startVm(['--stop-timeout', '600'], { STAND_IN_CHANNEL: 'none' });
    await vm.waitFor(/^stand-in: booted$/m);
    vm.signal('SIGTERM');
    const { code, output } = await vm.done;
    expect(output).toMatch(/^concierge vm: SIGTERM: the guest cannot be asked over the host channel: killing qemu$/m);
    expect(code).toBe(125);
  });
});
