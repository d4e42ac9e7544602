// Where specs come from: the one reader of spec files (PID 1's instance spec, `concierge serve`'s and
// `concierge run`'s files) and the search PID 1 makes for its instance spec.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { findConfigDrive, readConfigDrive, specDriveFromCmdline } from './config-drive.js';
import { SpecError, validateSpec, type InstanceSpec } from './spec.js';

export const fwCfgSpecPath = '/sys/firmware/qemu_fw_cfg/by_name/opt/concierge/spec/raw';
export const rootfsSpecPath = '/etc/concierge/instance.json';

export interface FoundSpec {
  spec: InstanceSpec;
  /** Where it came from, for the console ("kernel command line /x.json", "fw_cfg", ...). */
  origin: string;
}

function readText(path: string, origin: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new SpecError(`${origin}: cannot read: ${(err as Error).message}`);
  }
}

function parseJson(text: string, origin: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new SpecError(`${origin}: not JSON: ${(err as Error).message}`);
  }
}

/**
 * Reads a spec file (`concierge run`'s workload, `concierge serve`'s instance spec) as a JSON document;
 * relative paths inside it resolve against `baseDir`, its directory.
 */
export function readSpecDocument(path: string): { document: unknown; baseDir: string } {
  return { document: parseJson(readText(path, `spec ${path}`), `spec ${path}`), baseDir: dirname(resolve(path)) };
}

/** An instance spec's text; `origin` (where PID 1 found it) starts every message. */
export function parseSpecText(text: string, origin: string, baseDir: string): InstanceSpec {
  const document = parseJson(text, `instance spec from ${origin}`);
  try {
    return validateSpec(document, baseDir);
  } catch (err) {
    if (err instanceof SpecError) throw new SpecError(`instance spec from ${origin}: ${err.message}`, { cause: err });
    throw err;
  }
}

export function readSpec(path: string, origin: string, baseDir = dirname(resolve(path))): FoundSpec {
  return { spec: parseSpecText(readText(path, `instance spec from ${origin}`), origin, baseDir), origin };
}

/** `concierge.spec=<path>` from a kernel command line. */
export function specPathFromCmdline(cmdline: string): string | undefined {
  for (const word of cmdline.trim().split(/\s+/)) if (word.startsWith('concierge.spec=')) return word.slice('concierge.spec='.length);
  return undefined;
}

/** The kernel modules each source needs (loaded only when that source is tried). */
export const sourceModules = { fwCfg: ['qemu_fw_cfg'], configDrive: ['virtio_pci', 'virtio_blk'] } as const;

/**
 * Whether the machine has qemu's fw_cfg device: on x86 it is the ACPI device QEMU0002, which the
 * kernel lists as a platform device before any driver binds it. Other VMMs (Firecracker,
 * cloud-hypervisor) have none, so its module is not loaded for nothing there.
 */
export function hasFwCfgDevice(platformDevices = '/sys/bus/platform/devices'): boolean {
  return existsSync(join(platformDevices, 'QEMU0002:00'));
}

/**
 * Finds PID 1's instance spec, in order: an explicit path; `concierge.spec=<path>` on the kernel command
 * line; the config drive that `concierge.specdrive=<device>` names; qemu's fw_cfg entry, when the
 * machine has the device; a config drive found by its header on a virtio disk; the rootfs's file.
 * Drivers a source needs are loaded by `loadModules` first (failures mean "not this source"). None at
 * all: an empty spec, every default. A spec found but bad is an error.
 */
export function findSpec(explicitPath: string | undefined, loadModules: (names: readonly string[]) => void): FoundSpec {
  if (explicitPath !== undefined) return readSpec(explicitPath, `--spec ${explicitPath}`);
  const cmdline = existsSync('/proc/cmdline') ? readFileSync('/proc/cmdline', 'utf8') : '';
  const fromCmdline = specPathFromCmdline(cmdline);
  if (fromCmdline !== undefined) return readSpec(fromCmdline, `kernel command line ${fromCmdline}`);
  const tryLoad = (names: readonly string[]): void => {
    try {
      loadModules(names);
    } catch {
      // Not this kind of VM, or no module for it: the next source is tried.
    }
  };
  const drive = specDriveFromCmdline(cmdline);
  if (drive !== undefined) {
    tryLoad(sourceModules.configDrive);
    const origin = `config drive ${drive}`;
    let text: string | undefined;
    try {
      text = readConfigDrive(drive);
    } catch (err) {
      throw new SpecError(`instance spec from ${origin}: cannot read: ${(err as Error).message}`);
    }
    if (text === undefined) throw new SpecError(`instance spec from ${origin}: no CONCIERGE-SPEC header on the device`);
    return { spec: parseSpecText(text, origin, '/'), origin };
  }
  if (!existsSync('/sys/firmware/qemu_fw_cfg') && hasFwCfgDevice()) tryLoad(sourceModules.fwCfg);
  if (existsSync(fwCfgSpecPath)) return readSpec(fwCfgSpecPath, 'qemu fw_cfg opt/concierge/spec', '/');
  tryLoad(sourceModules.configDrive);
  const found = findConfigDrive();
  if (found !== undefined) {
    const origin = `config drive ${found.device}`;
    return { spec: parseSpecText(found.text, origin, '/'), origin };
  }
  if (existsSync(rootfsSpecPath)) return readSpec(rootfsSpecPath, rootfsSpecPath);
  return { spec: validateSpec({}), origin: 'none found (defaults)' };
}
