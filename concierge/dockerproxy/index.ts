export { startProxy, type ProxyOptions, type RunningProxy } from './server.js';
