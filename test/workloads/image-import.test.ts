import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importImageArchive } from '../../concierge/containerd/images/import.js';
import { resolveImage } from '../../concierge/containerd/images/resolve.js';
import { blobExists } from '../../concierge/containerd/content.js';
import { snapshotExists } from '../../concierge/containerd/images/unpack.js';
import { ignoreNotFound } from '../../concierge/containerd/errors.js';
import { busyboxLayer, dockerArchive, fileLayer, ociArchive, writeArchive } from './image-fixtures.js';
import { connect, dockerdSocket, inventory } from './containerd-env.js';

const client = connect();
const dir = mkdtempSync(join(tmpdir(), 'concierge-import-test-'));
const run = randomBytes(3).toString('hex');
const created: string[] = [];
let base: Buffer;

beforeAll(() => { base = busyboxLayer(); });
afterAll(async () => {
  for (const name of created) await ignoreNotFound(client.images.delete({ name, sync: true }));
  rmSync(dir, { recursive: true, force: true });
  client.close();
});

async function importAndCheck(path: string, expectedName: string) {
  const first = await importImageArchive(client, path);
  created.push(...first.names);
  expect(first.name).toBe(expectedName);
  const { image } = await client.images.get({ name: expectedName });
  expect(image?.target?.digest).toBe(first.manifestDigest);
  expect(await snapshotExists(client, 'overlayfs', first.chainId)).toBe(true);
  // Again: cheap and a no-op.
  const second = await importImageArchive(client, path);
  expect(second.written).toBe(false);
  expect(second.chainId).toBe(first.chainId);
  const resolved = await resolveImage(client, expectedName);
  expect(resolved.chainId).toBe(first.chainId);
  expect(resolved.config.env).toContain('FROM_IMAGE=yes');
  return first;
}

describe('image import without a registry', () => {
  it('imports an OCI layout archive with uncompressed and gzip layers', async () => {
    const extra = fileLayer('srv/marker', Buffer.from(`oci ${run}\n`));
    await importAndCheck(writeArchive(join(dir, 'oci.tar'), ociArchive([base, extra], `test.local/oci:${run}`)), `test.local/oci:${run}`);
    await importAndCheck(writeArchive(join(dir, 'oci-gz.tar'), ociArchive([base, extra], `test.local/ocigz:${run}`, { gzip: true })),
      `test.local/ocigz:${run}`);
  });

  it('imports docker save archives, written here and made by a real dockerd', async () => {
    await importAndCheck(writeArchive(join(dir, 'docker.tar'), dockerArchive([base], `test.local/docker:${run}`)), `test.local/docker:${run}`);
    await importAndCheck(writeArchive(join(dir, 'docker-gz.tar'), dockerArchive([base], `dockergz:${run}`, { gzip: true })),
      `docker.io/library/dockergz:${run}`);
    const docker = new Docker({ socketPath: dockerdSocket() });
    const tag = `concierge-import-test:${run}`;
    const progress = await docker.importImage(Readable.from([base]),
      { repo: 'concierge-import-test', tag: run, changes: ['ENV FROM_IMAGE=yes'] });
    await new Promise<void>((resolve, reject) => docker.modem.followProgress(progress, (e) => (e ? reject(e) : resolve())));
    const saved = await docker.getImage(tag).get();
    const chunks: Buffer[] = [];
    for await (const c of saved) chunks.push(c as Buffer);
    await docker.getImage(tag).remove();
    // Compressed as a whole, too: the importer expands a gzip archive first.
    const { gzipSync } = await import('node:zlib');
    await importAndCheck(writeArchive(join(dir, 'saved.tar.gz'), gzipSync(Buffer.concat(chunks))), `docker.io/library/${tag}`);
  });

  it('refuses a corrupt archive and leaves nothing behind', async () => {
    const unique = fileLayer('srv/unique', randomBytes(200_000));
    const good = ociArchive([base, unique], `test.local/corrupt:${run}`);
    const bad = Buffer.from(good);
    // Flip bytes inside the unique layer's data (the first blob after the two directories' headers).
    const at = bad.indexOf(Buffer.from('srv/unique')) + 512 + 1000;
    bad[at] = bad[at]! ^ 0xff;
    const before = await inventory(client);
    const path = writeArchive(join(dir, 'corrupt.tar'), bad);
    await expect(importImageArchive(client, path)).rejects.toThrow(/corrupt|does not match/);
    await expect(client.images.get({ name: `test.local/corrupt:${run}` })).rejects.toThrow(/not found/);
    expect(await inventory(client)).toEqual(before);
    const { createHash } = await import('node:crypto');
    const uniqueDigest = `sha256:${createHash('sha256').update(unique).digest('hex')}`;
    expect(await blobExists(client, uniqueDigest)).toBe(false);
  });

  it('refuses a truncated archive with a clear error', async () => {
    const whole = readFileSync(join(dir, 'oci.tar'));
    const path = join(dir, 'truncated.tar');
    writeFileSync(path, whole.subarray(0, Math.floor(whole.length * 0.6)));
    await expect(importImageArchive(client, path, { name: `test.local/truncated:${run}` })).rejects.toThrow(/truncated|missing/);
    await expect(client.images.get({ name: `test.local/truncated:${run}` })).rejects.toThrow(/not found/);
    writeFileSync(path, 'not an archive at all, just text that is long enough to look like a header '.repeat(20));
    await expect(importImageArchive(client, path)).rejects.toThrow(/corrupt tar header|not a tar/);
  });
});
