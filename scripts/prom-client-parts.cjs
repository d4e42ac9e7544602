// The parts of prom-client concierge uses (Registry, Counter, Gauge), bundled in place of its index,
// which also loads cluster aggregation (node:cluster), the push gateway (node:http, node:https), the
// default metrics, histograms and summaries: on the host 30-40 ms against 3-6 ms, loaded at each boot
// while containerd starts. build.mjs checks that concierge imports nothing else from prom-client.
'use strict';
module.exports = {
  Registry: require('prom-client/lib/registry'),
  Counter: require('prom-client/lib/counter'),
  Gauge: require('prom-client/lib/gauge'),
};
