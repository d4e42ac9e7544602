/**
 * The headers dockerd puts on every answer (`Api-Version`, `Docker-Experimental`, `Ostype`, `Server`),
 * learned from its answers, so an answer the proxy makes itself looks like one of dockerd's.
 */
const NAMES = new Set(['api-version', 'docker-experimental', 'ostype', 'server']);
let learned = '';

export function learnDockerdHeaders(rawHeaders: ReadonlyArray<readonly [string, string]>): void {
  let out = '';
  for (const [name, value] of rawHeaders) if (NAMES.has(name.toLowerCase())) out += `${name}: ${value}\r\n`;
  if (out !== '') learned = out;
}

export function hasLearnedDockerdHeaders(): boolean {
  return learned !== '';
}

/** Header lines ("Name: value\r\n"...) to add to a locally made answer. */
export function dockerdHeaderLines(): string {
  return learned;
}
