// `assert` as sonic-boom (pino's destination) calls it: assert(value, message). Bundled in place
// of node:assert, which loads only when an assertion fails: its start took 57 ms of the boot before
// concierge's first line under emulation.
'use strict';
module.exports = function assert(value, message) {
  if (!value) process.getBuiltinModule('node:assert')(value, message);
};
