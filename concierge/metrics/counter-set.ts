// Counters another part keeps as plain numbers (the DNS cache's hits and misses, ...), read when scraped:
// the part counts without knowing prom-client, and the composition root names what it exports.
import { Counter, type Registry } from 'prom-client';

/** One counter, labelled `kind`, over an object of plain numbers (each key a kind). */
export function counterSet(registry: Registry, name: string, help: string, read: () => Readonly<Record<string, number>>): void {
  new Counter({
    name, help, labelNames: ['kind'], registers: [registry],
    collect() {
      this.reset();
      for (const [kind, value] of Object.entries(read())) this.inc({ kind }, value);
    },
  });
}
