import { describe, expect, it } from 'vitest';
import { readManifestDocument } from './manifest.js';
import { selectPlatform } from './platform.js';
import { parseReference } from './reference.js';
import { parseChallenges } from './www-authenticate.js';

const digest = `sha256:${'a'.repeat(64)}`;

describe('references', () => {
  it.each([
    ['busybox', { name: 'docker.io/library/busybox:latest', host: 'docker.io', repository: 'library/busybox', object: 'latest' }],
    ['registry.test:5000/ci/job:1', { name: 'registry.test:5000/ci/job:1', host: 'registry.test:5000', repository: 'ci/job', object: '1' }],
    [`localhost/x@${digest}`, { name: `localhost/x@${digest}`, host: 'localhost', repository: 'x', object: digest }],
    [`reg.test/x:1@${digest}`, { name: `reg.test/x@${digest}`, host: 'reg.test', repository: 'x', object: digest }],
  ])('%s', (text, expected) => expect(parseReference(text)).toEqual(expected));

  it.each(['', 'a b', 'reg.test/UP', 'reg.test/x:-bad', 'reg.test/x@sha256:12'])('refuses %j', (text) => {
    expect(() => parseReference(text)).toThrow(/invalid image reference/);
  });
});

describe('WWW-Authenticate', () => {
  it('reads bearer and basic challenges with quoted and token values', () => {
    const [bearer, basic] = parseChallenges('Bearer realm="https://auth.test/token",service="reg",scope="repository:a/b:pull,push", Basic realm=x');
    expect(bearer?.scheme).toBe('bearer');
    expect(Object.fromEntries(bearer!.params)).toEqual({ realm: 'https://auth.test/token', service: 'reg', scope: 'repository:a/b:pull,push' });
    expect(basic?.scheme).toBe('basic');
    expect(basic?.params.get('realm')).toBe('x');
  });
});

describe('manifests', () => {
  const manifest = (mediaType: string | undefined) => Buffer.from(JSON.stringify({
    schemaVersion: 2, ...(mediaType === undefined ? {} : { mediaType }),
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: 2 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: 3 }],
  }));

  it('reads OCI and Docker manifests, taking the type from Content-Type when the document has none', () => {
    expect(readManifestDocument(manifest(undefined), 'application/vnd.oci.image.manifest.v1+json', 'm'))
      .toMatchObject({ kind: 'manifest', mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [{ size: 3 }] });
    expect(readManifestDocument(manifest('application/vnd.docker.distribution.manifest.v2+json'), 'application/vnd.docker.distribution.manifest.v2+json', 'm'))
      .toMatchObject({ kind: 'manifest', mediaType: 'application/vnd.docker.distribution.manifest.v2+json' });
  });

  it.each([
    [Buffer.from('{'), /not valid JSON/],
    [Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x' })), /schemaVersion 1/],
    [Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { digest: 'md5:x', size: 1, mediaType: 'x' }, layers: [] })), /not a sha256 digest/],
    [Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { digest, size: 1, mediaType: 'x' }, layers: [{ digest, size: 1, mediaType: 'application/x-zstd' }] })), /unsupported media type/],
    [Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ digest, size: -1, mediaType: 'x' }] })), /size/],
    [Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] })), /served as .*manifest.* but declares .*index/],
  ])('refuses a bad document (%#)', (bytes, message) => {
    const served = message.source === 'size' ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json';
    expect(() => readManifestDocument(bytes, served, 'm')).toThrow(message);
  });

  it('selects linux/amd64 from an index, and nothing when only other platforms are there', () => {
    const arm = { mediaType: 'm', digest, size: 1, platform: { os: 'linux', architecture: 'arm64' } };
    const amd = { ...arm, size: 2, platform: { os: 'linux', architecture: 'amd64' } };
    expect(selectPlatform([arm, amd], { os: 'linux', architecture: 'amd64' })).toBe(amd);
    expect(selectPlatform([arm], { os: 'linux', architecture: 'amd64' })).toBeUndefined();
  });
});
