/**
 * The request-target and head helpers the Docker-aware layer routes and rewrites requests with; the
 * data path forwards targets and heads untouched and never needs them.
 */

/** The parts of a request target the Docker-aware layer routes on. */
export interface DockerTarget {
  /** `/v1.41` or '' */
  versionPrefix: string;
  /** API version the request is served at (dockerd's default when there is no prefix). */
  version: string | undefined;
  /** Path without the version prefix, e.g. `/containers/abc/json`. */
  path: string;
  /** Raw query string without `?`, or ''. */
  query: string;
}

export function splitTarget(target: string): DockerTarget {
  const q = target.indexOf('?');
  const fullPath = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q + 1);
  const m = /^\/v(\d+(?:\.\d+)?)(?=\/)/.exec(fullPath);
  if (m === null) return { versionPrefix: '', version: undefined, path: fullPath, query };
  return { versionPrefix: m[0], version: m[1], path: fullPath.slice(m[0].length), query };
}

/** Serializes a head from parts (used only when a message is rewritten). */
export function serializeHead(startLine: string, rawHeaders: ReadonlyArray<readonly [string, string]>): Buffer {
  let s = `${startLine}\r\n`;
  for (const [name, value] of rawHeaders) s += `${name}: ${value}\r\n`;
  return Buffer.from(`${s}\r\n`, 'latin1');
}
