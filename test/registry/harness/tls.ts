// A CA and a server certificate for 127.0.0.1 and localhost, made with openssl for one test run.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestTls {
  caPem: string;
  caPath: string;
  certPath: string;
  keyPath: string;
}

export function makeTls(dir: string, names: string[] = []): TestTls {
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=concierge registry test CA',
    '-keyout', path('ca.key'), '-out', path('ca.crt'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', path('server.key'), '-out', path('server.csr'));
  const sans = ['IP:127.0.0.1', 'DNS:localhost', ...names.map((n) => `DNS:${n}`)].join(',');
  writeFileSync(path('san.ext'), `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`);
  openssl('x509', '-req', '-in', path('server.csr'), '-CA', path('ca.crt'), '-CAkey', path('ca.key'), '-CAcreateserial', '-days', '1',
    '-extfile', path('san.ext'), '-out', path('server.crt'));
  return { caPem: readFileSync(path('ca.crt'), 'utf8'), caPath: path('ca.crt'), certPath: path('server.crt'), keyPath: path('server.key') };
}
