import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InstanceSpec } from '../instance/spec.js';
import { done, skipped, type StepResult } from './step.js';

/**
 * What dockerd needs (forwarding for its bridge; bridged traffic through iptables when it manages
 * iptables). Only per-network-namespace keys: never a machine-wide one by default.
 */
export function dockerSysctls(spec: InstanceSpec): Record<string, string> {
  if (!spec.docker.enabled) return {};
  const needs: Record<string, string> = { 'net.ipv4.ip_forward': '1' };
  if (spec.docker.iptables) {
    needs['net.bridge.bridge-nf-call-iptables'] = '1';
    needs['net.bridge.bridge-nf-call-ip6tables'] = '1';
  }
  return needs;
}

/** net.ipv4.ip_forward -> /proc/sys/net/ipv4/ip_forward; a key written with "/" is taken as the path. */
export function sysctlPath(key: string): string {
  return join('/proc/sys', key.includes('/') ? key : key.replaceAll('.', '/'));
}

export interface SysctlOutcome {
  result: StepResult;
  /** Keys whose file does not exist yet (a module not loaded): tried again after the modules step. */
  missing: Record<string, string>;
}

/** Writes each value that differs from the kernel's; the spec's values win over dockerd's needs. */
export function applySysctls(values: Record<string, string>): SysctlOutcome {
  const written: string[] = [];
  const missing: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    const path = sysctlPath(key);
    let current: string;
    try {
      current = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        missing[key] = value;
        continue;
      }
      throw err;
    }
    if (normalize(current) === normalize(value)) continue;
    writeFileSync(path, value);
    written.push(`${key}=${value}`);
  }
  const absent = Object.keys(missing);
  const result = written.length > 0 ? done(written.join(' ')) : skipped(absent.length > 0 ? `absent: ${absent.join(' ')}` : 'all set');
  return { result, missing };
}

const normalize = (v: string): string => v.trim().split(/\s+/).join(' ');
