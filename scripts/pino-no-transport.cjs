// pino's transport (worker threads through thread-stream), bundled in its place: concierge writes its
// logs to a file descriptor and never starts a transport, and thread-stream's load was part of the
// boot before concierge's first line. pino.transport() and the `transport` option throw.
'use strict';
module.exports = function transport() {
  throw new Error('pino transports are not part of concierge');
};
