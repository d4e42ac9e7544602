// Generates TypeScript for containerd's gRPC API into proto/gen/ with protoc + @bufbuild/protoc-gen-es,
// from the .proto files Debian ships (golang-github-containerd-containerd-dev, the same version as the
// containerd we run) plus gogo's and Google's from their Debian packages. Nothing upstream is copied into
// the repo: the inputs are read where the packages put them.
// Usage: node proto/generate.mjs [--if-stale]   (--if-stale: do nothing when proto/gen is newer than this file
// and every input)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const here = dirname(new URL(import.meta.url).pathname);
const root = dirname(here);
const gen = join(here, 'gen');
const gocode = '/usr/share/gocode/src';
const api = 'github.com/containerd/containerd/api';

/** Import roots, in protoc's search order; the first that holds a name wins. */
const includes = [
  gocode, // github.com/containerd/containerd/...
  join(gocode, 'github.com/gogo/protobuf'), // gogoproto/gogo.proto
  '/usr/include', // google/protobuf/*.proto (libprotobuf-dev)
  join(gocode, 'github.com/gogo/googleapis'), // google/rpc/status.proto (introspection)
];

/** The services concierge calls or serves, the events it decodes or publishes, and what they import that is not a well-known type. */
const inputs = [
  ...['version', 'namespaces', 'containers', 'tasks', 'content', 'images', 'snapshots', 'diff', 'leases', 'events', 'introspection']
    .map((s) => `${api}/services/${s}/v1/${s === 'namespaces' ? 'namespace' : s}.proto`),
  ...['container', 'content', 'image', 'namespace', 'snapshot', 'task'].map((e) => `${api}/events/${e}.proto`),
  ...['descriptor', 'metrics', 'mount', 'platform', 'task/task'].map((t) => `${api}/types/${t}.proto`),
  'github.com/containerd/containerd/protobuf/plugin/fieldpath.proto',
  // The runtime v2 shim's Task service (concierge/shim/ serves it over ttrpc).
  'github.com/containerd/containerd/runtime/v2/task/shim.proto',
  // What a shim forwards its task events with (to containerd's TTRPC_ADDRESS).
  `${api}/services/ttrpc/events/v1/events.proto`,
  // A shim's Stats answer: cgroup v2 metrics as containerd's cgroups library declares them (golang-github-containerd-cgroups-dev).
  'github.com/containerd/cgroups/v2/stats/metrics.proto',
  'gogoproto/gogo.proto',
  'google/rpc/status.proto',
];

function mtime(path) {
  return statSync(path).mtimeMs;
}

function resolveInput(name) {
  for (const dir of includes) if (existsSync(join(dir, name))) return join(dir, name);
  throw new Error(`proto/generate: ${name} not found under ${includes.join(', ')}; run scripts/setup.sh (Debian packages golang-github-containerd-containerd-dev, golang-github-gogo-protobuf-dev, libprotobuf-dev)`);
}

export function generate({ ifStale = false } = {}) {
  const files = inputs.map(resolveInput);
  const stamp = join(gen, '.stamp');
  if (ifStale && existsSync(stamp)) {
    const newest = Math.max(mtime(new URL(import.meta.url).pathname), ...files.map(mtime));
    if (mtime(stamp) >= newest) return false;
  }
  const plugin = join(root, 'node_modules/.bin/protoc-gen-es');
  // Generate into a fresh directory and swap it in, so an interrupted run never leaves a half tree.
  const tmp = `${gen}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const protoc = spawnSync('protoc', [
    `--plugin=protoc-gen-es=${plugin}`,
    `--es_out=${tmp}`,
    '--es_opt=target=ts,import_extension=js',
    ...includes.map((i) => `-I${i}`),
    ...inputs,
  ], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  // gogo's options are imported but unused in most files: protoc's warnings about that are noise.
  const messages = (protoc.stderr ?? '').split('\n').filter((l) => l && !/warning: Import .* is unused/.test(l));
  if (messages.length > 0) process.stderr.write(`${messages.join('\n')}\n`);
  if (protoc.error) throw new Error(`proto/generate: cannot run protoc (${protoc.error.message}); run scripts/setup.sh`);
  if (protoc.status !== 0) throw new Error(`proto/generate: protoc exited with ${protoc.status}`);
  writeFileSync(join(tmp, '.stamp'), `${new Date().toISOString()}\n`);
  rmSync(gen, { recursive: true, force: true });
  renameSync(tmp, gen);
  return true;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const started = Date.now();
  const done = generate({ ifStale: process.argv.includes('--if-stale') });
  if (done) console.log(`generated proto/gen in ${Date.now() - started} ms`);
}
