// Import boundaries of concierge/ (checked by `npm test`): lower parts know nothing of higher ones,
// and only the composition roots (cli/, supervise/) choose implementations and wire parts together.
const part = (name) => `^concierge/${name}/`;
const generated = '^proto/gen/';

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: { path: '^concierge/' }, to: { circular: true } },
    {
      name: 'sys-is-a-leaf', severity: 'error',
      comment: 'sys/ is the syscall shim: it imports nothing of concierge but itself.',
      from: { path: part('sys') }, to: { path: '^concierge/', pathNot: [part('sys')] },
    },
    {
      name: 'os-over-sys-only', severity: 'error',
      comment: 'os/ holds OS primitives over sys/ (mount options, mountinfo, /proc, netlink).',
      from: { path: part('os') }, to: { path: '^concierge/', pathNot: [part('os'), part('sys'), part('log')] },
    },
    {
      name: 'instance-is-the-hosts-document', severity: 'error',
      comment: 'instance/ reads and validates the spec the host gives (workloads included): the parts that act on it import it, never the reverse.',
      from: { path: part('instance') }, to: { path: '^concierge/', pathNot: [part('instance'), part('os'), part('sys'), part('log')] },
    },
    {
      name: 'containerd-is-a-client-library', severity: 'error',
      comment: 'containerd/ is a client of containerd\'s API: it knows nothing of workloads, the proxy or PID 1.',
      from: { path: part('containerd') }, to: { path: ['^concierge/', '^proto/'], pathNot: [part('containerd'), part('log'), generated] },
    },
    {
      name: 'registry-is-a-client-library', severity: 'error',
      comment: 'registry/ pulls images into containerd: it knows containerd/ and log/, nothing of workloads, the proxy or PID 1.',
      from: { path: part('registry') }, to: { path: '^concierge/', pathNot: [part('registry'), part('containerd'), part('log')] },
    },
    {
      name: 'workloads-not-above', severity: 'error',
      comment: 'workloads/ owns its ports (docker access); the proxy and PID 1 plug in from the composition roots.',
      from: { path: part('workloads') }, to: { path: [part('dockerproxy'), part('boot'), part('supervise'), part('cli')] },
    },
    {
      name: 'dockerproxy-not-above', severity: 'error',
      from: { path: part('dockerproxy') }, to: { path: [part('boot'), part('instance'), part('supervise'), part('workloads'), part('cli')] },
    },
    {
      name: 'shim-drives-a-vm-from-the-host', severity: 'error',
      comment: 'shim/ is the host side of a containerd runtime shim: it boots guests through vmm/ and hostchannel/ and writes their instance spec, never running guest-side parts (workloads, containerd client, boot).',
      from: { path: part('shim') },
      to: { path: '^concierge/', pathNot: [part('shim'), part('vmm'), part('hostchannel'), part('instance'), part('log'), part('os'), part('sys')] },
    },
    {
      name: 'only-roots-compose', severity: 'error',
      comment: 'Only cli/ and supervise/ (and main.ts) wire parts together: no part imports them, the proxy or the boot steps.',
      from: { path: '^concierge/', pathNot: [part('cli'), part('supervise'), '^concierge/main\\.ts$'] },
      to: { path: [part('cli'), part('supervise')] },
    },
    {
      name: 'proxy-and-boot-chosen-by-roots', severity: 'error',
      from: { path: '^concierge/', pathNot: [part('cli'), part('supervise'), part('dockerproxy'), part('boot'), '^concierge/main\\.ts$'] },
      to: { path: [part('dockerproxy'), part('boot')] },
    },
    {
      name: 'shipped-code-not-from-tests', severity: 'error',
      from: { path: '^concierge/', pathNot: '\\.test\\.ts$' }, to: { path: ['^test/', '^bench/'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^proto/gen/', 'node_modules'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
