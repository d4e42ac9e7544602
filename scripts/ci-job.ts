// `npm run main`'s job (scripts/main.sh builds first): boots the guest on a closed test network with
// the CI job of guest-rootfs/specs/ci-job.json. The test host (test/guest/ci-host.ts) serves the job's
// image from a registry over TLS with basic auth, the project's repository over git://, and DNS for
// both. The job clones the project, builds its image FROM the registry, pushes it, runs its two-service
// compose project and removes everything. Prints the console as it comes, then each step's time.
// Exits with the job's exit code.
// Usage: npx tsx scripts/ci-job.ts [concierge vm options: --console <file|->, --verbose, --timeout <s>...]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ciSteps, formatSteps, startCiHost } from '../test/guest/ci-host.js';
import { startGuest } from '../test/guest/vm.js';

const started = performance.now();
const seconds = (): string => ((performance.now() - started) / 1000).toFixed(1);
const dir = mkdtempSync(join(tmpdir(), 'concierge-ci-job-'));
const host = await startCiHost({
  dir, tag: 'main', password: `pw-${randomBytes(8).toString('hex')}`,
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stderr.write(`main: test host ready after ${seconds()} s; booting the guest\n`);
const boot = startGuest({
  spec: host.spec, net: host.net, accel: 'auto', timeoutSeconds: 900, args: process.argv.slice(2),
  onLine: (line) => process.stdout.write(`${line}\n`),
});
// Ctrl-C: concierge vm (in the same process group) asks the guest to shut down; the host goes after it.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => boot.child.kill(signal));
const result = await boot.done;
await host.stop();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`\nmain: the CI job's steps (host seconds since qemu's start, time since the step before):\n${formatSteps(ciSteps(result))}\n`);
process.stdout.write(`main: job exit code ${result.code}, ${seconds()} s in all\n`);
process.exit(result.code ?? 125);
