import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { basename, join } from 'node:path';
import { MODULE_INIT, sys } from '../sys/index.js';
import { done, skipped, type StepResult } from './step.js';

/** A module's name as the kernel knows it: file name without .ko[.xz|.zst|.gz], "-" read as "_". */
export function moduleName(path: string): string {
  return basename(path).replace(/\.ko(\.(xz|zst|gz))?$/, '').replaceAll('-', '_');
}

/** modules.dep: "kernel/fs/overlayfs/overlay.ko: dep.ko other.ko" -> name -> { path, deps }. */
export function parseModulesDep(text: string): Map<string, { path: string; deps: string[] }> {
  const modules = new Map<string, { path: string; deps: string[] }>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter((d) => d !== '');
    modules.set(moduleName(path), { path, deps });
  }
  return modules;
}

/**
 * The files to load for the named modules, dependencies first and each once. modules.dep lists a
 * module's full dependency closure with the deepest last, so it is loaded in reverse.
 * Names in `builtin` need no file.
 */
export function loadOrder(names: string[], dep: Map<string, { path: string; deps: string[] }>, builtin: Set<string>): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  for (const raw of names) {
    const name = raw.replaceAll('-', '_');
    if (builtin.has(name)) continue;
    const entry = dep.get(name);
    if (entry === undefined) throw new Error(`kernel module ${raw} is not in modules.dep`);
    for (const path of [...[...entry.deps].reverse(), entry.path]) {
      if (seen.has(path)) continue;
      seen.add(path);
      order.push(path);
    }
  }
  return order;
}

/**
 * Loaded and done initialising. A module still in its init (loaded in the background by the first
 * stage) already has its /sys/module directory but says "coming": finit_module then waits for it and
 * answers EEXIST, so its devices exist once the call returns. A built-in has no initstate.
 */
export function loaded(name: string, sysModule = '/sys/module'): boolean {
  const dir = join(sysModule, name);
  if (!existsSync(dir)) return false;
  const initstate = join(dir, 'initstate');
  return !existsSync(initstate) || readFileSync(initstate, 'latin1').trim() === 'live';
}

interface ModuleIndex {
  dep: Map<string, { path: string; deps: string[] }>;
  builtin: Set<string>;
}

/** modules.dep and modules.builtin of each module directory, read once: the spec's sources, the spec's modules and the host channel each ask. */
const indexes = new Map<string, ModuleIndex>();

function moduleIndex(moduleDir: string): ModuleIndex {
  let index = indexes.get(moduleDir);
  if (index === undefined) {
    const depPath = join(moduleDir, 'modules.dep');
    if (!existsSync(depPath)) throw new Error(`no ${depPath}: this system has no loadable kernel modules`);
    const builtinPath = join(moduleDir, 'modules.builtin');
    index = {
      dep: parseModulesDep(readFileSync(depPath, 'utf8')),
      builtin: new Set(existsSync(builtinPath) ? readFileSync(builtinPath, 'utf8').split('\n').filter((l) => l !== '').map(moduleName) : []),
    };
    indexes.set(moduleDir, index);
  }
  return index;
}

/** Loads modules with finit_module from /lib/modules/$(uname -r); already loaded ones are skipped. */
export function loadModules(names: string[], moduleDir = join('/lib/modules', release())): StepResult {
  const wanted = names.filter((n) => !loaded(n.replaceAll('-', '_')));
  if (wanted.length === 0) return skipped(names.length === 0 ? 'none in spec' : 'all loaded');
  const { dep, builtin } = moduleIndex(moduleDir);
  const inserted: string[] = [];
  for (const relative of loadOrder(wanted, dep, builtin)) {
    const name = moduleName(relative);
    if (loaded(name)) continue;
    const path = join(moduleDir, relative);
    const fd = openSync(path, 'r');
    try {
      // Compressed modules are decompressed by the kernel (CONFIG_MODULE_DECOMPRESS).
      sys.finitModule(fd, '', /\.ko\.(xz|zst|gz)$/.test(path) ? MODULE_INIT.COMPRESSED_FILE : 0, path);
      inserted.push(name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      closeSync(fd);
    }
  }
  return inserted.length === 0 ? skipped('all loaded') : done(inserted.join(' '));
}
