// Generates TypeScript for containerd's gRPC API into proto/gen/ with protoc + @bufbuild/protoc-gen-es,
// from the .proto files Debian ships (golang-github-containerd-containerd-dev, the same version as the
// containerd we run) plus gogo's and Google's from their Debian packages. Nothing upstream is copied into
// the repo: the inputs are read where the packages put them.
// Usage: node proto/generate.mjs [--if-stale]   (--if-stale: do nothing when proto/gen is newer than this file
// and every input)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

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
  // The runtime v2 shim's Task service (concierge/shim/ serves it over ttrpc).
  'github.com/containerd/containerd/runtime/v2/task/shim.proto',
  // What a shim forwards its task events with (to containerd's TTRPC_ADDRESS).
  `${api}/services/ttrpc/events/v1/events.proto`,
  // A shim's Stats answer: cgroup v2 metrics as containerd's cgroups library declares them (golang-github-containerd-cgroups-dev).
  'github.com/containerd/cgroups/v2/stats/metrics.proto',
  // The runc shim's runtime options: which OCI runtime binary it runs (a workload's container carries them).
  'github.com/containerd/containerd/runtime/v2/runc/options/oci.proto',
  'google/rpc/status.proto',
];

/**
 * Files that only declare custom options: gogo's hints to its Go generator and containerd's fieldpath
 * marker. protobuf-es ignores both, but every generated file embedding them as dependencies made
 * concierge decode their ~70 extension descriptors at load: gogo.proto alone was 10-16 of the ~25 ms
 * the containerd API's descriptors took to load on the host (530-560 ms under emulation, while
 * containerd starts beside it). They are removed from the descriptors before generation, with the
 * option values that use them; the wire format is untouched.
 */
const optionOnlyFiles = ['gogoproto/gogo.proto', 'github.com/containerd/containerd/protobuf/plugin/fieldpath.proto'];

/** The descriptor set without the option-only files, their imports, and option values of their extensions. */
function withoutOptionOnlyFiles(set) {
  const dropped = set.file.filter((f) => optionOnlyFiles.includes(f.name ?? ''));
  // Their extensions as `${options message}:${field number}`: what an option value of them is keyed by.
  const extensions = new Set(dropped.flatMap((f) => f.extension.map((e) => `${(e.extendee ?? '').replace(/^\./, '')}:${e.number}`)));
  const strip = (options) => {
    if (options?.$unknown === undefined) return;
    options.$unknown = options.$unknown.filter((u) => !extensions.has(`${options.$typeName}:${u.no}`));
  };
  const visitMessage = (m) => {
    strip(m.options);
    for (const f of [...m.field, ...m.extension]) strip(f.options);
    for (const o of m.oneofDecl) strip(o.options);
    for (const e of m.enumType) visitEnum(e);
    for (const n of m.nestedType) visitMessage(n);
  };
  const visitEnum = (e) => {
    strip(e.options);
    for (const v of e.value) strip(v.options);
  };
  set.file = set.file.filter((f) => !dropped.includes(f));
  for (const f of set.file) {
    // Public and weak imports are indices into the imports (containerd's import gogo.proto weakly).
    const kept = f.dependency.flatMap((d, i) => (optionOnlyFiles.includes(d) ? [] : [i]));
    const renumber = (indices) => indices.flatMap((i) => (kept.includes(i) ? [kept.indexOf(i)] : []));
    f.publicDependency = renumber(f.publicDependency);
    f.weakDependency = renumber(f.weakDependency);
    f.dependency = kept.map((i) => f.dependency[i]);
    strip(f.options);
    for (const m of f.messageType) visitMessage(m);
    for (const e of f.enumType) visitEnum(e);
    for (const x of f.extension) strip(x.options);
    for (const svc of f.service) {
      strip(svc.options);
      for (const method of svc.method) strip(method.options);
    }
  }
  return set;
}

function mtime(path) {
  return statSync(path).mtimeMs;
}

function resolveInput(name) {
  for (const dir of includes) if (existsSync(join(dir, name))) return join(dir, name);
  throw new Error(`proto/generate: ${name} not found under ${includes.join(', ')}; run scripts/setup.sh (Debian packages golang-github-containerd-containerd-dev, golang-github-gogo-protobuf-dev, libprotobuf-dev)`);
}

export function generate({ ifStale = false } = {}) {
  // The option-only files are read too (imported by the inputs): their changes make the output stale.
  const files = [...inputs, ...optionOnlyFiles].map(resolveInput);
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
  const runProtoc = (args) => {
    const protoc = spawnSync('protoc', args, { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
    // gogo's options are imported but unused in most files: protoc's warnings about that are noise.
    const messages = (protoc.stderr ?? '').split('\n').filter((l) => l && !/warning: Import .* is unused/.test(l));
    if (messages.length > 0) process.stderr.write(`${messages.join('\n')}\n`);
    if (protoc.error) throw new Error(`proto/generate: cannot run protoc (${protoc.error.message}); run scripts/setup.sh`);
    if (protoc.status !== 0) throw new Error(`proto/generate: protoc exited with ${protoc.status}`);
  };
  // Parsed once into a descriptor set, trimmed, then generated from the trimmed set.
  const parsed = join(tmp, 'parsed.pb');
  const trimmed = join(tmp, 'trimmed.pb');
  try {
    runProtoc(['--include_imports', '--include_source_info', `--descriptor_set_out=${parsed}`, ...includes.map((i) => `-I${i}`), ...inputs]);
    writeFileSync(trimmed, toBinary(FileDescriptorSetSchema, withoutOptionOnlyFiles(fromBinary(FileDescriptorSetSchema, readFileSync(parsed)))));
    runProtoc([`--plugin=protoc-gen-es=${plugin}`, `--es_out=${tmp}`, '--es_opt=target=ts,import_extension=js', `--descriptor_set_in=${trimmed}`, ...inputs]);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  rmSync(parsed);
  rmSync(trimmed);
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
