// The registries section of the instance spec: per registry host, credentials, a CA, plain HTTP, and
// mirrors. Validated here (field paths in messages) so the instance spec and `concierge run` share it.
import { inspect } from 'node:util';
import { X509Certificate } from 'node:crypto';

/**
 * A username and password. The password is a private field, and the value prints and serializes without
 * it, so a log line or an error that carries settings cannot leak it.
 */
export class Credentials {
  readonly #password: string;
  constructor(readonly username: string, password: string) {
    this.#password = password;
  }

  /** The HTTP Basic authorization value. */
  basic(): string {
    return `Basic ${Buffer.from(`${this.username}:${this.#password}`).toString('base64')}`;
  }

  toJSON(): { username: string; password: string } {
    return { username: this.username, password: '<redacted>' };
  }

  [inspect.custom](): string {
    return `Credentials { username: ${JSON.stringify(this.username)}, password: <redacted> }`;
  }
}

export interface RegistryHostSettings {
  credentials?: Credentials;
  /** PEM certificates trusted for this host's TLS (besides the system's). */
  ca?: string;
  /** Plain HTTP instead of HTTPS. */
  insecure: boolean;
  /** Origins (`https://host:port`) tried in order before the host itself. */
  mirrors: string[];
}

/** Keyed by the host as references write it (`registry.test:5000`, `docker.io`). */
export type RegistrySettings = ReadonlyMap<string, RegistryHostSettings>;

export class RegistrySettingsError extends Error {
  override name = 'RegistrySettingsError';
}

const hostPattern = /^(?:[a-zA-Z0-9.-]+|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;
const hostFields = ['username', 'password', 'ca', 'insecure', 'mirrors'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function mirrorOrigin(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new RegistrySettingsError(`${where}: expected a URL like "https://mirror.example:5000"`);
  let url: URL;
  try {
    url = new URL(value.includes('://') ? value : `https://${value}`);
  } catch {
    throw new RegistrySettingsError(`${where}: ${JSON.stringify(value)} is not a URL`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || (url.pathname !== '/' && url.pathname !== '') || url.search !== ''
    || url.username !== '' || url.password !== '') {
    throw new RegistrySettingsError(`${where}: expected an http(s) origin without path, query or credentials, got ${JSON.stringify(value)}`);
  }
  return url.origin;
}

function pem(value: unknown, where: string): string {
  if (typeof value !== 'string' || !value.includes('-----BEGIN CERTIFICATE-----')) {
    throw new RegistrySettingsError(`${where}: expected PEM certificates ("-----BEGIN CERTIFICATE-----...")`);
  }
  try {
    new X509Certificate(value);
  } catch (err) {
    throw new RegistrySettingsError(`${where}: not a readable certificate (${(err as Error).message})`);
  }
  return value;
}

function hostSettings(value: unknown, where: string): RegistryHostSettings {
  if (!isObject(value)) throw new RegistrySettingsError(`${where}: expected an object`);
  for (const key of Object.keys(value)) {
    if (!hostFields.includes(key)) throw new RegistrySettingsError(`${where}: unknown field "${key}" (known: ${hostFields.join(', ')})`);
  }
  const { username, password, ca, insecure, mirrors } = value;
  if ((username === undefined) !== (password === undefined)) throw new RegistrySettingsError(`${where}: username and password go together`);
  if (username !== undefined && (typeof username !== 'string' || username === '' || username.includes(':'))) {
    throw new RegistrySettingsError(`${where}.username: expected a non-empty string without ":"`);
  }
  if (password !== undefined && typeof password !== 'string') throw new RegistrySettingsError(`${where}.password: expected a string`);
  if (insecure !== undefined && typeof insecure !== 'boolean') throw new RegistrySettingsError(`${where}.insecure: expected true or false`);
  if (mirrors !== undefined && !Array.isArray(mirrors)) throw new RegistrySettingsError(`${where}.mirrors: expected an array`);
  return {
    ...(typeof username === 'string' && typeof password === 'string' ? { credentials: new Credentials(username, password) } : {}),
    ...(ca === undefined ? {} : { ca: pem(ca, `${where}.ca`) }),
    insecure: insecure === true,
    mirrors: (mirrors ?? []).map((m, i) => mirrorOrigin(m, `${where}.mirrors[${i}]`)),
  };
}

/** `where` names the section in messages (`spec.registries`). */
export function parseRegistrySettings(value: unknown, where = 'registries'): RegistrySettings {
  const settings = new Map<string, RegistryHostSettings>();
  if (value === undefined) return settings;
  if (!isObject(value)) throw new RegistrySettingsError(`${where}: expected an object keyed by registry host`);
  for (const [host, entry] of Object.entries(value)) {
    const at = `${where}["${host}"]`;
    if (!hostPattern.test(host)) throw new RegistrySettingsError(`${at}: not a registry host (like "registry.example:5000")`);
    settings.set(host, hostSettings(entry, at));
  }
  return settings;
}
