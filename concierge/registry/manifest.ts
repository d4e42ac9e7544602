// Typed readers for what a registry serves: image manifests and indexes (OCI and Docker schema2), read
// at the edge so nothing downstream handles unchecked JSON.
import { isIndex, isManifest, isSupportedLayer, mediaTypes } from '../containerd/images/media-types.js';
import { RegistryError } from './errors.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}

/** Media types a manifest request accepts, most specific first. */
export const manifestAccept = [mediaTypes.ociIndex, mediaTypes.dockerManifestList, mediaTypes.ociManifest, mediaTypes.dockerManifest];

const digestPattern = /^sha256:[a-f0-9]{64}$/;

function protocol(what: string): RegistryError {
  return new RegistryError('protocol', what);
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectAt(value: unknown, where: string): Record<string, unknown> {
  if (!isJsonObject(value)) throw protocol(`${where}: expected a JSON object`);
  return value;
}

function stringAt(value: unknown, where: string): string {
  if (typeof value !== 'string' || value === '') throw protocol(`${where}: expected a non-empty string`);
  return value;
}

function platformAt(value: unknown, where: string): Platform {
  const p = objectAt(value, where);
  return {
    os: stringAt(p.os, `${where}.os`),
    architecture: stringAt(p.architecture, `${where}.architecture`),
    ...(typeof p.variant === 'string' && p.variant !== '' ? { variant: p.variant } : {}),
  };
}

export function descriptorAt(value: unknown, where: string): Descriptor {
  const d = objectAt(value, where);
  const digest = stringAt(d.digest, `${where}.digest`);
  if (!digestPattern.test(digest)) throw protocol(`${where}.digest: ${JSON.stringify(digest)} is not a sha256 digest`);
  const size = d.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw protocol(`${where}.size: expected a byte count`);
  return {
    mediaType: stringAt(d.mediaType, `${where}.mediaType`),
    digest,
    size,
    ...(d.platform === undefined ? {} : { platform: platformAt(d.platform, `${where}.platform`) }),
  };
}

function arrayAt(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw protocol(`${where}: expected an array`);
  return value;
}

/**
 * Reads a manifest or index. The media type is the one the registry sent (Content-Type); a document's
 * own mediaType field, when present, must agree with it.
 */
export function readManifestDocument(bytes: Buffer, contentType: string, what: string): ImageManifest | ImageIndex {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw protocol(`${what}: not valid JSON`);
  }
  const doc = objectAt(parsed, what);
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const served = contentType.split(';')[0]!.trim();
  const type = declared ?? served;
  if (declared !== undefined && (isIndex(served) || isManifest(served)) && isIndex(declared) !== isIndex(served)) {
    throw protocol(`${what}: served as ${served} but declares ${declared}`);
  }
  if (doc.schemaVersion !== 2) throw protocol(`${what}: schemaVersion ${JSON.stringify(doc.schemaVersion)} is not supported (schema 2 and OCI only)`);
  if (isIndex(type) || (declared === undefined && Array.isArray(doc.manifests))) {
    return { kind: 'index', mediaType: isIndex(type) ? type : mediaTypes.ociIndex, manifests: arrayAt(doc.manifests, `${what}.manifests`).map((m, i) => descriptorAt(m, `${what}.manifests[${i}]`)) };
  }
  if (isManifest(type) || (declared === undefined && doc.config !== undefined)) {
    const layers = arrayAt(doc.layers, `${what}.layers`).map((l, i) => descriptorAt(l, `${what}.layers[${i}]`));
    for (const l of layers) {
      if (!isSupportedLayer(l.mediaType)) throw protocol(`${what}: layer ${l.digest} has the unsupported media type ${l.mediaType}`);
    }
    return { kind: 'manifest', mediaType: isManifest(type) ? type : mediaTypes.ociManifest, config: descriptorAt(doc.config, `${what}.config`), layers };
  }
  throw protocol(`${what}: unsupported media type ${JSON.stringify(type)}`);
}
