/** The part of an OCI/Docker image config a container's process is made from. */
export interface ImageRuntimeConfig {
  env: string[];
  entrypoint: string[];
  cmd: string[];
  workingDir: string;
  user: string;
  os: string;
  architecture: string;
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

export function parseImageConfig(bytes: Buffer): ImageRuntimeConfig {
  const doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  const c = (typeof doc.config === 'object' && doc.config !== null ? doc.config : {}) as Record<string, unknown>;
  return {
    env: strings(c.Env),
    entrypoint: strings(c.Entrypoint),
    cmd: strings(c.Cmd),
    workingDir: typeof c.WorkingDir === 'string' ? c.WorkingDir : '',
    user: typeof c.User === 'string' ? c.User : '',
    os: typeof doc.os === 'string' ? doc.os : 'linux',
    architecture: typeof doc.architecture === 'string' ? doc.architecture : '',
  };
}
