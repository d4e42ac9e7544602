/**
 * The headers dockerd puts on every answer (`Api-Version`, `Docker-Experimental`, `Ostype`, `Server`),
 * learned from its answers, so an answer the proxy makes itself looks like one of dockerd's. One per
 * proxy server (each knows its own dockerd), shared by its connections and its own dockerd client.
 */
const NAMES = new Set(['api-version', 'docker-experimental', 'ostype', 'server']);

export class DockerdHeaders {
  private learned = '';

  get known(): boolean {
    return this.learned !== '';
  }

  /** Learns from one answer's headers (the first answer that has any is enough). */
  learn(rawHeaders: ReadonlyArray<readonly [string, string]>): void {
    let out = '';
    for (const [name, value] of rawHeaders) if (NAMES.has(name.toLowerCase())) out += `${name}: ${value}\r\n`;
    if (out !== '') this.learned = out;
  }

  /** Header lines ("Name: value\r\n"...) to add to a locally made answer. */
  lines(): string {
    return this.learned;
  }
}
