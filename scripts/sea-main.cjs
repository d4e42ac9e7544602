// The single executable's main: runs the bundle (asset concierge.js) with a V8 code cache made after
// the init path's modules were evaluated (asset concierge.cache, scripts/sea-code-cache.cjs). Node's
// own `useCodeCache` holds only the bundle's top level, so every module's function was compiled at
// each start; under emulation that was most of Node's start to concierge's first line.
'use strict';
const { getAsset } = require('node:sea');
const { Script } = require('node:vm');

const script = new Script(getAsset('concierge.js', 'utf8'), {
  filename: 'concierge.js',
  cachedData: new Uint8Array(getAsset('concierge.cache')),
});
// A cache V8 rejects (another V8, other flags) only costs the compile it would have saved.
if (script.cachedDataRejected === true && process.env.CONCIERGE_CODE_CACHE_CHECK === '1') process.stderr.write('concierge: code cache rejected\n');
script.runInThisContext()(exports, require, module, __filename, __dirname);
