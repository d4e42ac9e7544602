// The instance spec's `registries`: per registry host (as image references write it), credentials, a CA,
// plain HTTP, and mirrors. Used by concierge's own pulls and, except the credentials, by dockerd's
// configuration. The password is held so that no log line, error or serialization can show it.
import { inspect } from 'node:util';
import { SpecError, arrayAt, booleanAt, objectAt, optional, recordAt, stringAt } from './spec-fields.js';

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

  toString(): string {
    return `${this.username}:<redacted>`;
  }

  [inspect.custom](): string {
    return `Credentials { username: ${JSON.stringify(this.username)}, password: <redacted> }`;
  }
}

export interface RegistryHostSpec {
  credentials?: Credentials;
  /** PEM certificates trusted for this host's TLS, besides the system's. */
  ca?: string;
  /** Plain HTTP (dockerd: an insecure registry). */
  insecure: boolean;
  /** Origins tried in order before the registry itself. */
  mirrors: string[];
}

export type RegistriesSpec = ReadonlyMap<string, RegistryHostSpec>;

const hostPattern = /^(?:[a-zA-Z0-9.-]+|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;

function mirrorOrigin(value: unknown, where: string): string {
  const text = stringAt(value, where);
  let url: URL;
  try {
    url = new URL(text.includes('://') ? text : `https://${text}`);
  } catch {
    throw new SpecError(`${where}: ${JSON.stringify(text)} is not a URL`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || (url.pathname !== '/' && url.pathname !== '') || url.search !== ''
    || url.username !== '' || url.password !== '') {
    throw new SpecError(`${where}: expected an http(s) origin without path, query or credentials, got ${JSON.stringify(text)}`);
  }
  return url.origin;
}

function pem(value: unknown, where: string): string {
  const text = stringAt(value, where);
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new SpecError(`${where}: expected PEM certificates ("-----BEGIN CERTIFICATE-----...")`);
  try {
    // Loaded here, not imported: node:crypto's start (OpenSSL's) took 134 ms of the boot under
    // emulation, and most specs carry no CA.
    new (process.getBuiltinModule('node:crypto').X509Certificate)(text);
  } catch (err) {
    throw new SpecError(`${where}: not a readable certificate (${(err as Error).message})`);
  }
  return text;
}

function hostSpec(value: unknown, where: string): RegistryHostSpec {
  const h = objectAt(value, where, ['username', 'password', 'ca', 'insecure', 'mirrors']);
  if ((h.username === undefined) !== (h.password === undefined)) throw new SpecError(`${where}: username and password go together`);
  const username = optional(h.username, (v) => stringAt(v, `${where}.username`, /^[^:]+$/));
  // Never echo a password in a message: only say what is wrong with it.
  if (h.password !== undefined && typeof h.password !== 'string') throw new SpecError(`${where}.password: expected a string`);
  return {
    ...(username !== undefined && typeof h.password === 'string' ? { credentials: new Credentials(username, h.password) } : {}),
    ...(h.ca === undefined ? {} : { ca: pem(h.ca, `${where}.ca`) }),
    insecure: optional(h.insecure, (v) => booleanAt(v, `${where}.insecure`)) ?? false,
    mirrors: optional(h.mirrors, (v) => arrayAt(v, `${where}.mirrors`, mirrorOrigin)) ?? [],
  };
}

/** `where` names the section in messages ("spec.registries", or the file given to `concierge run`). */
export function registriesAt(value: unknown, where: string): RegistriesSpec {
  const registries = new Map<string, RegistryHostSpec>();
  for (const [host, entry] of Object.entries(recordAt(value, where))) {
    const at = `${where}["${host}"]`;
    if (!hostPattern.test(host)) throw new SpecError(`${at}: not a registry host (like "registry.example:5000")`);
    registries.set(host, hostSpec(entry, at));
  }
  return registries;
}
