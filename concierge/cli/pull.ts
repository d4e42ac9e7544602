import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ContainerdClient, defaultContainerdSocket } from '../containerd/client.js';
import { importImageArchive } from '../containerd/images/import.js';
import { SpecError } from '../instance/spec-fields.js';
import { registriesAt, type RegistriesSpec } from '../instance/spec-registries.js';
import { readSpecDocument } from '../instance/spec-source.js';
import { isArchivePath } from '../instance/spec-workloads.js';
import { RegistryClient } from '../registry/client.js';
import { pullImage } from '../registry/pull.js';
import { UsageError } from './usage-error.js';

const help = `usage: concierge pull <reference|archive> [--registries <registries.json>] [--containerd <sock>] [--namespace <ns>]
Pulls an image from its registry into containerd (the guest's platform; layers unpacked for overlayfs),
as a workload with that image reference would, and prints one line: its name, manifest digest, the layers
and bytes fetched. An archive path (docker save or OCI layout, as a workload's image) is imported as a
workload would import it; the line then says whether anything was written (a guest image build uses it
to hand containerd the sample job's image ready to run). Exit code 1 with the reason when the pull
fails, 2 for bad arguments.
  --registries  credentials, CAs and mirrors (the instance spec's "registries" section as a file)
  --namespace   containerd namespace (default "default")`;

export async function run(args: string[]): Promise<number | undefined> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      registries: { type: 'string' },
      containerd: { type: 'string' },
      namespace: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  const [reference, ...extra] = positionals;
  if (reference === undefined || extra.length > 0) throw new UsageError(`one image reference is required\n${help}`);
  let registries: RegistriesSpec = new Map();
  try {
    if (values.registries !== undefined) registries = registriesAt(readSpecDocument(values.registries).document, values.registries);
  } catch (err) {
    if (err instanceof SpecError) {
      process.stderr.write(`concierge pull: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const client = ContainerdClient.connect(values.containerd ?? defaultContainerdSocket, values.namespace ?? 'default');
  const registry = new RegistryClient(registries);
  try {
    await client.waitReady();
    const started = performance.now();
    if (isArchivePath(reference)) {
      const imported = await importImageArchive(client, resolve(reference));
      process.stdout.write(`${imported.name} ${imported.manifestDigest} written=${imported.written} ms=${Math.round(performance.now() - started)}\n`);
      return 0;
    }
    const result = await pullImage(client, registry, reference);
    process.stdout.write(`${result.name} ${result.manifestDigest} layers=${result.fetchedLayers} bytes=${result.fetchedBytes} `
      + `ms=${Math.round(performance.now() - started)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`concierge pull: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await registry.close();
    client.close();
  }
}
