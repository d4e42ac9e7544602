const goArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** This machine's platform in OCI terms (Go's names). */
export const hostPlatform = { os: 'linux', architecture: goArch[process.arch] ?? process.arch };
