// concierge's DNS cache alone in a process of its own (so the benchmark's client does not share its
// event loop): listens on 127.0.0.1, a free port, forwarding to the upstream given as host:port.
// Prints {"port": n} once listening. Usage: npx tsx bench/lib/dns-cache-process.ts <host:port>
import { CachingResolver } from '../../concierge/dns/resolver.js';
import { listenDns } from '../../concierge/dns/server.js';

const [host, port] = (process.argv[2] ?? '').split(':');
if (host === undefined || port === undefined) throw new Error('usage: dns-cache-process.ts <upstream host:port>');
const server = await listenDns(new CachingResolver({ servers: [{ address: host, port: Number(port) }] }), '127.0.0.1', 0);
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
