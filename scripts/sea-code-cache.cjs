// Writes the code cache of the bundle for scripts/sea-main.cjs: compiles the bundle exactly as the
// single executable will (same wrapper, same file name), evaluates the init path's modules by running
// `init --help` (prints the help, touches nothing) and `compileInitPath` (loads the workloads' code,
// reads a sample spec), runs a workload's start against a stand-in containerd (`compileWorkloadPath`,
// stand-in-containerd.cjs), and saves the cache with every function compiled by then. Run by build.mjs
// with the Node the executable embeds (a cache fits one V8 build only).
// Usage: node sea-code-cache.cjs <wrapped bundle> <cache out>
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { runWorkloadPath } = require('./stand-in-containerd.cjs');
const { Script } = require('node:vm');

const [wrapped, out] = process.argv.slice(2);
const script = new Script(readFileSync(wrapped, 'utf8'), { filename: 'concierge.js' });
process.argv = [process.argv[0], process.argv[0], 'init', '--help'];
script.runInThisContext()(exports, require, module, __filename, __dirname);
// Compiled at each boot before: in the guest, containerd's readiness to the job's task started went
// from 2.9 to 2.4-2.5 s with the init path's modules in the cache; in a namespace, the spec step from
// 2.7 to 1.6 ms.
// Then the job's path once containerd answers: the gRPC client, an archive's import, the task's start.
module.exports.compileInitPath().then(() => runWorkloadPath(module.exports.compileWorkloadPath)).then(
  () => process.on('exit', () => writeFileSync(out, script.createCachedData())),
  (err) => { console.error(err); process.exitCode = 1; },
);
