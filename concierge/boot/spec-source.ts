import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InstanceSpecError, validateSpec, type InstanceSpec } from './spec.js';

export const fwCfgSpecPath = '/sys/firmware/qemu_fw_cfg/by_name/opt/concierge/spec/raw';
export const rootfsSpecPath = '/etc/concierge/instance.json';

export interface FoundSpec {
  spec: InstanceSpec;
  /** Where it came from, for the console ("kernel command line /x.json", "fw_cfg", ...). */
  origin: string;
}

/** `concierge.spec=<path>` from a kernel command line. */
export function specPathFromCmdline(cmdline: string): string | undefined {
  for (const word of cmdline.trim().split(/\s+/)) if (word.startsWith('concierge.spec=')) return word.slice('concierge.spec='.length);
  return undefined;
}

/**
 * Finds the instance spec (brief 2): an explicit path, else `concierge.spec=` on the kernel command
 * line, else qemu's fw_cfg entry (its driver loaded first by `loadFwCfg` when absent), else the
 * rootfs's file. None at all: an empty spec, every default. A spec found but bad is an error.
 */
export function findSpec(explicitPath: string | undefined, loadFwCfg: () => void): FoundSpec {
  if (explicitPath !== undefined) return readSpec(explicitPath, `--spec ${explicitPath}`);
  const fromCmdline = existsSync('/proc/cmdline') ? specPathFromCmdline(readFileSync('/proc/cmdline', 'utf8')) : undefined;
  if (fromCmdline !== undefined) return readSpec(fromCmdline, `kernel command line ${fromCmdline}`);
  if (!existsSync('/sys/firmware/qemu_fw_cfg')) {
    try {
      loadFwCfg();
    } catch {
      // Not a qemu guest, or no module for it: fall through to the rootfs file.
    }
  }
  if (existsSync(fwCfgSpecPath)) return readSpec(fwCfgSpecPath, 'qemu fw_cfg opt/concierge/spec', '/');
  if (existsSync(rootfsSpecPath)) return readSpec(rootfsSpecPath, rootfsSpecPath);
  return { spec: validateSpec({}), origin: 'none found (defaults)' };
}

export function readSpec(path: string, origin: string, baseDir = dirname(path)): FoundSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InstanceSpecError(`instance spec from ${origin}: cannot read: ${(err as Error).message}`);
  }
  return { spec: parseSpecText(text, origin, baseDir), origin };
}

export function parseSpecText(text: string, origin: string, baseDir: string): InstanceSpec {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InstanceSpecError(`instance spec from ${origin}: not JSON: ${(err as Error).message}`);
  }
  try {
    return validateSpec(json, baseDir);
  } catch (err) {
    if (err instanceof InstanceSpecError) err.message = `instance spec from ${origin}: ${err.message}`;
    throw err;
  }
}
