import { describe, expect, it } from 'vitest';
import { validateSpec } from '../instance/spec.js';
import { dockerdArgs } from './daemons.js';

describe('dockerd arguments', () => {
  it('point containers at the guest\'s DNS cache when the spec names DNS servers, and name no resolver otherwise', () => {
    const withDns = dockerdArgs(validateSpec({ network: { dns: ['10.88.0.1'] }, docker: { iptables: true } }));
    expect(withDns.join(' ')).toContain('--dns 169.254.53.53');
    expect(withDns).toContain('--iptables=true');
    expect(withDns).not.toContain('--ip-masq=false');
    expect(dockerdArgs(validateSpec({}))).not.toContain('--dns');
  });
});
