// Where specs come from: the one loader of spec files (PID 1's instance spec, `concierge serve`'s and
// `concierge run`'s files) and the search PID 1 makes for its instance spec.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SpecError, validateSpec, type InstanceSpec } from './spec.js';

export const fwCfgSpecPath = '/sys/firmware/qemu_fw_cfg/by_name/opt/concierge/spec/raw';
export const rootfsSpecPath = '/etc/concierge/instance.json';

export interface FoundSpec {
  spec: InstanceSpec;
  /** Where it came from, for the console ("kernel command line /x.json", "fw_cfg", ...). */
  origin: string;
}

/** Turns a parsed JSON document into a typed spec; `baseDir` resolves relative paths in it. */
export type Validate<T> = (document: unknown, baseDir: string) => T;

/**
 * Reads and validates a spec file. Every error is a SpecError whose message starts with `origin`
 * ("instance spec from /etc/concierge/instance.json: spec.hostname: ..."). Relative paths inside the
 * file resolve against its directory unless `baseDir` says otherwise.
 */
export function readSpecFile<T>(path: string, origin: string, validate: Validate<T>, baseDir = dirname(resolve(path))): { spec: T; baseDir: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SpecError(`${origin}: cannot read: ${(err as Error).message}`);
  }
  return { spec: parseSpecDocument(text, origin, baseDir, validate), baseDir };
}

export function parseSpecDocument<T>(text: string, origin: string, baseDir: string, validate: Validate<T>): T {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new SpecError(`${origin}: not JSON: ${(err as Error).message}`);
  }
  try {
    return validate(document, baseDir);
  } catch (err) {
    if (err instanceof SpecError) throw new SpecError(`${origin}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** An instance spec's text; `origin` names where it came from in messages. */
export function parseSpecText(text: string, origin: string, baseDir: string): InstanceSpec {
  return parseSpecDocument(text, `instance spec from ${origin}`, baseDir, validateSpec);
}

export function readSpec(path: string, origin: string, baseDir?: string): FoundSpec {
  return { spec: readSpecFile(path, `instance spec from ${origin}`, validateSpec, baseDir).spec, origin };
}

/** `concierge.spec=<path>` from a kernel command line. */
export function specPathFromCmdline(cmdline: string): string | undefined {
  for (const word of cmdline.trim().split(/\s+/)) if (word.startsWith('concierge.spec=')) return word.slice('concierge.spec='.length);
  return undefined;
}

/**
 * Finds PID 1's instance spec: an explicit path, else `concierge.spec=` on the kernel command line, else
 * qemu's fw_cfg entry (its driver loaded first by `loadFwCfg` when absent), else the rootfs's file. None
 * at all: an empty spec, every default. A spec found but bad is an error.
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
