// What the registry client is told per registry host: credentials, a CA, plain HTTP, mirrors. The
// instance spec's `registries` section is read into this shape by concierge/instance.

/** A username and a way to make the Basic authorization value; the password itself is not exposed. */
export interface RegistryCredentials {
  readonly username: string;
  basic(): string;
}

export interface RegistryHostSettings {
  credentials?: RegistryCredentials;
  /** PEM certificates trusted for this host's TLS (besides the system's). */
  ca?: string;
  /** Plain HTTP instead of HTTPS. */
  insecure: boolean;
  /** Origins (`https://host:port`) tried in order before the host itself. */
  mirrors: string[];
}

/** Keyed by the host as references write it (`registry.test:5000`, `docker.io`). */
export type RegistrySettings = ReadonlyMap<string, RegistryHostSettings>;
