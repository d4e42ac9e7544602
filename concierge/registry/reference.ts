// An image reference split the way the distribution API addresses it: the registry host, the
// repository path, and a tag or digest. Short names mean Docker Hub, as docker and containerd read them.
import { normalizeReference } from '../containerd/images/reference.js';

export interface ImageReference {
  /** The full name containerd records the image under (`docker.io/library/busybox:latest`). */
  name: string;
  /** The registry host as written in references and in the registries settings (`registry.test:5000`). */
  host: string;
  /** The repository path on that registry (`library/busybox`). */
  repository: string;
  /** A digest when the reference pins one, otherwise the tag. */
  object: string;
}

const componentPattern = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const digestPattern = /^sha256:[a-f0-9]{64}$/;

export class ReferenceError extends Error {
  override name = 'ReferenceError';
}

export function parseReference(text: string): ImageReference {
  let name: string;
  try {
    name = normalizeReference(text);
  } catch (err) {
    throw new ReferenceError(err instanceof Error ? err.message : String(err));
  }
  const bad = (why: string) => new ReferenceError(`invalid image reference ${JSON.stringify(text)}: ${why}`);
  let rest = name;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestPattern.test(digest)) throw bad('the digest is not sha256:<64 hex digits>');
  }
  const slash = rest.indexOf('/');
  const host = rest.slice(0, slash);
  let repository = rest.slice(slash + 1);
  let tag: string | undefined;
  const colon = repository.lastIndexOf(':');
  if (colon !== -1) {
    tag = repository.slice(colon + 1);
    repository = repository.slice(0, colon);
    if (!tagPattern.test(tag)) throw bad(`tag ${JSON.stringify(tag)}`);
  }
  if (!/^[a-zA-Z0-9.-]+(:[0-9]{1,5})?$/.test(host) && !/^\[[0-9a-fA-F:]+\](:[0-9]{1,5})?$/.test(host)) throw bad(`registry host ${JSON.stringify(host)}`);
  if (repository.split('/').some((c) => !componentPattern.test(c))) throw bad(`repository ${JSON.stringify(repository)}`);
  const object = digest ?? tag;
  if (object === undefined) throw bad('no tag or digest');
  // A digest pins the content: the name containerd records keeps it, the tag is dropped.
  return { name: digest === undefined ? name : `${host}/${repository}@${digest}`, host, repository, object };
}

/** Docker Hub's API is not served at the name references use. */
export function apiHost(host: string): string {
  return host === 'docker.io' ? 'registry-1.docker.io' : host;
}
