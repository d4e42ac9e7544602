// dockerproxy/: the Docker API proxy's data path (framing, connection pairing, upstream pool); aware/ is its Docker-aware layer.
export { startProxy, type ProxyOptions, type RunningProxy } from './server.js';
