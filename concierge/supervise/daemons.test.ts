import { describe, expect, it } from 'vitest';
import { validateSpec } from '../instance/spec.js';
import { dockerdConfig } from './dockerd-builder.js';
import { dockerdArgs, dockerdConfigPath } from './daemons.js';

describe('dockerd arguments', () => {
  it('point containers at the guest\'s DNS cache when the spec names DNS servers, and name no resolver otherwise', () => {
    const withDns = dockerdArgs(validateSpec({ network: { dns: ['10.88.0.1'] }, docker: { iptables: true } }));
    expect(withDns.join(' ')).toContain('--dns 169.254.53.53');
    expect(withDns).toContain('--iptables=true');
    expect(withDns).not.toContain('--ip-masq=false');
    expect(dockerdArgs(validateSpec({}))).not.toContain('--dns');
  });
});

describe("dockerd's builder configuration", () => {
  const workload = (id: string, dockerPolicy: unknown, dockerAccess = true) => ({ id, image: 'registry.test/x:1', dockerAccess, dockerPolicy });
  const entitlements = (workloads: unknown[]) =>
    (JSON.parse(dockerdConfig(validateSpec({ workloads }).workloads)) as { builder: { Entitlements: Record<string, boolean> } }).builder.Entitlements;

  it('grants network.host only when a workload with docker access allows host namespaces; never security.insecure', () => {
    expect(entitlements([])).toEqual({ 'network-host': false, 'security-insecure': false });
    expect(entitlements([workload('a', 'isolated'), workload('b', { privileged: true })])['network-host']).toBe(false);
    expect(entitlements([workload('a', 'trusted', false)])['network-host']).toBe(false);
    expect(entitlements([workload('a', 'isolated'), workload('b', 'trusted')])).toEqual({ 'network-host': true, 'security-insecure': false });
    expect(entitlements([workload('a', { hostNamespaces: true })])['network-host']).toBe(true);
  });

  it('is the file dockerd is given, and the spec cannot name another', () => {
    const spec = validateSpec({ runDir: '/run/x' });
    const args = dockerdArgs(spec);
    expect(args[args.indexOf('--config-file') + 1]).toBe(dockerdConfigPath(spec));
    expect(() => validateSpec({ docker: { args: ['--config-file', '/etc/other.json'] } })).toThrow(/--config-file/);
    expect(() => validateSpec({ docker: { args: ['--config-file=/etc/other.json'] } })).toThrow(/--config-file/);
  });
});
