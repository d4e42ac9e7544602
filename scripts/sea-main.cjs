// The single executable's main: runs the bundle (asset concierge.js) with a V8 code cache made after
// the init path's modules were evaluated (asset concierge.cache, scripts/sea-code-cache.cjs). Node's
// own `useCodeCache` holds only the bundle's top level, so every module's function was compiled at
// each start; under emulation that was most of Node's start to concierge's first line.
'use strict';
const { getAsset } = require('node:sea');
const { Script } = require('node:vm');

// The first stage's run ahead under TCG (concierge/cli/run-ahead.ts): its paths that need only Node run
// here, before the bundle's load, so that they come before init's (V8's regular-expression compiler,
// JSON, the boot steps' file calls, libuv's thread pool). The boot steps' line under TCG came at
// +196-237 ms against +225-328 ms with them run after the load (5 alternated boots each).
if (process.argv[2] === '--run-ahead') {
  for (let i = 0; i < 3; i++) 'a b  c'.split(/\s+/);
  JSON.parse(JSON.stringify({ run: 'ahead', at: [1, 2.5] }));
  const fs = require('node:fs');
  fs.existsSync('/etc');
  fs.readdirSync('/');
  fs.mkdirSync('/', { recursive: true });
  try {
    fs.lstatSync('/etc/hosts');
    fs.readFileSync('/etc/hosts', 'utf8');
  } catch {
    // A root without one.
  }
  const devNull = fs.openSync('/dev/null', 'w');
  fs.write(devNull, '\n', () => fs.closeSync(devNull));
}
const script = new Script(getAsset('concierge.js', 'utf8'), {
  filename: 'concierge.js',
  cachedData: new Uint8Array(getAsset('concierge.cache')),
});
// A cache V8 rejects (another V8, other flags) only costs the compile it would have saved.
if (script.cachedDataRejected === true && process.env.CONCIERGE_CODE_CACHE_CHECK === '1') process.stderr.write('concierge: code cache rejected\n');
script.runInThisContext()(exports, require, module, __filename, __dirname);
