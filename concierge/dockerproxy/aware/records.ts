import { mkdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import type { DockerdClient } from './dockerd.js';

/** A staging bind made for a caller, and the path the caller named (answers carry that path again). */
export interface StagedBind {
  staging: string;
  callerPath: string;
}

interface Stored {
  containers: Record<string, StagedBind[]>;
  volumes: Record<string, StagedBind[]>;
  networks: Record<string, string>;
  /** Volumes created without labels: dockerd shows their labels as null, not {}. */
  unlabelled: string[];
}

/**
 * What one caller created and what was staged for it, kept by concierge itself: labels on objects are
 * never a source of truth (dockerd copies an image's labels into containers that do not set them, and
 * `commit` copies a container's labels into an image). Persisted as one JSON file per caller under
 * concierge's run directory, so a restarted concierge can rebuild it and check it against dockerd.
 */
export class CallerRecords {
  private readonly containers = new Map<string, StagedBind[]>();
  private readonly volumes = new Map<string, StagedBind[]>();
  private readonly unlabelled = new Set<string>();
  /** Network id -> name (network prunes answer with names). */
  private readonly networks = new Map<string, string>();
  /** Staging path -> the caller's path, for every live staging bind. */
  private readonly callerPaths = new Map<string, string>();
  /** Creates under way: their create events may arrive before the answer that records them. */
  private creating = 0;
  /** Names of volumes and networks being created (their events carry the name). */
  private readonly creatingNames = new Map<string, number>();
  /** Recently forgotten ids and names: their last events (destroy, remove) may come after. */
  private readonly forgotten: string[] = [];
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly file: string,
    readonly callerId: string,
  ) {}

  /** Loads a caller's records (none when the file is absent or unreadable). */
  static load(file: string, callerId: string): CallerRecords {
    const records = new CallerRecords(file, callerId);
    let stored: Partial<Stored> = {};
    try {
      stored = parseStored(readFileSync(file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') stored = {};
    }
    for (const [id, binds] of Object.entries(stored.containers ?? {})) records.setBinds(records.containers, id, binds);
    for (const [name, binds] of Object.entries(stored.volumes ?? {})) records.setBinds(records.volumes, name, binds);
    for (const [id, name] of Object.entries(stored.networks ?? {})) records.networks.set(id, name);
    for (const name of stored.unlabelled ?? []) records.unlabelled.add(name);
    return records;
  }

  hasContainer(id: string): boolean {
    return this.containers.has(id);
  }

  hasVolume(name: string): boolean {
    return this.volumes.has(name);
  }

  /** The volume was created without labels of the caller's (its labels read as null, as dockerd shows them). */
  isUnlabelledVolume(name: string): boolean {
    return this.unlabelled.has(name);
  }

  hasNetwork(id: string): boolean {
    return this.networks.has(id);
  }

  containerIds(): string[] {
    return [...this.containers.keys()];
  }

  volumeNames(): string[] {
    return [...this.volumes.keys()];
  }

  networkIds(): string[] {
    return [...this.networks.keys()];
  }

  /** The path the caller named for a staging path, if it is one of this caller's. */
  callerPathOf(staging: string): string | undefined {
    return this.callerPaths.get(staging);
  }

  get createsUnderWay(): boolean {
    return this.creating > 0;
  }

  isBeingCreated(name: string): boolean {
    return this.creatingNames.has(name);
  }

  wasForgotten(idOrName: string): boolean {
    return this.forgotten.includes(idOrName);
  }

  /** Marks a create (of a named volume or network, when given) under way until the returned function is called. */
  beginCreate(name?: string): () => void {
    this.creating++;
    if (name !== undefined) this.creatingNames.set(name, (this.creatingNames.get(name) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.creating--;
      if (name !== undefined) {
        const n = (this.creatingNames.get(name) ?? 1) - 1;
        if (n === 0) this.creatingNames.delete(name);
        else this.creatingNames.set(name, n);
      }
    };
  }

  private remember(idOrName: string): void {
    this.forgotten.push(idOrName);
    if (this.forgotten.length > 256) this.forgotten.shift();
  }

  addContainer(id: string, binds: readonly StagedBind[]): Promise<void> {
    this.setBinds(this.containers, id, [...(this.containers.get(id) ?? []), ...binds]);
    return this.persist();
  }

  /** Forgets a container; returns its staging binds for release. */
  removeContainer(id: string): { staged: string[]; done: Promise<void> } {
    return this.forget(this.containers, id);
  }

  addVolume(name: string, binds: readonly StagedBind[], opts: { labelled: boolean }): Promise<void> {
    if (!this.volumes.has(name) && !opts.labelled) this.unlabelled.add(name);
    this.setBinds(this.volumes, name, [...(this.volumes.get(name) ?? []), ...binds]);
    return this.persist();
  }

  removeVolume(name: string): { staged: string[]; done: Promise<void> } {
    this.unlabelled.delete(name);
    return this.forget(this.volumes, name);
  }

  addNetwork(id: string, name: string): Promise<void> {
    this.networks.set(id, name);
    return this.persist();
  }

  removeNetwork(idOrName: string): Promise<void> {
    for (const [id, name] of this.networks) {
      if (id === idOrName || name === idOrName) {
        this.networks.delete(id);
        this.remember(id);
      }
    }
    return this.persist();
  }

  /**
   * After a restart: drops what dockerd no longer has. Returns the staging binds of what is gone, to be
   * released (a sibling removed while concierge was down).
   */
  async verify(dockerd: DockerdClient): Promise<string[]> {
    const released: string[] = [];
    for (const id of this.containerIds()) {
      if ((await dockerd.inspectContainer(id)) === undefined) released.push(...this.forget(this.containers, id).staged);
    }
    for (const name of this.volumeNames()) {
      if ((await dockerd.inspectVolume(name)) === undefined) released.push(...this.removeVolume(name).staged);
    }
    for (const id of this.networkIds()) {
      if ((await dockerd.inspectNetwork(id)) === undefined) this.networks.delete(id);
    }
    await this.persist();
    return released;
  }

  private setBinds(map: Map<string, StagedBind[]>, key: string, binds: readonly StagedBind[]): void {
    map.set(key, [...binds]);
    for (const b of binds) this.callerPaths.set(b.staging, b.callerPath);
  }

  private forget(map: Map<string, StagedBind[]>, key: string): { staged: string[]; done: Promise<void> } {
    const binds = map.get(key);
    // Forgotten already (a destroy seen first): done once that forgetting is on disk.
    if (binds === undefined) return { staged: [], done: this.writing };
    map.delete(key);
    this.remember(key);
    // A path stays mapped for answers until the sibling is gone; only then is it released.
    for (const b of binds) this.callerPaths.delete(b.staging);
    return { staged: binds.map((b) => b.staging), done: this.persist() };
  }

  /** Writes the records (one write at a time; each writes the latest state, replaced atomically). */
  private persist(): Promise<void> {
    const next = this.writing.then(async () => {
      const stored: Stored = {
        containers: Object.fromEntries(this.containers),
        volumes: Object.fromEntries(this.volumes),
        networks: Object.fromEntries(this.networks),
        unlabelled: [...this.unlabelled],
      };
      mkdirSync(dirnameOf(this.file), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.tmp`;
      await writeFile(tmp, JSON.stringify(stored), { mode: 0o600 });
      await rename(tmp, this.file);
    });
    this.writing = next.catch(() => undefined);
    return next;
  }
}

function dirnameOf(file: string): string {
  return file.slice(0, Math.max(file.lastIndexOf('/'), 1));
}

/** Reads a stored records file, keeping only well-formed entries. */
function parseStored(text: string): Partial<Stored> {
  const raw: unknown = JSON.parse(text);
  if (typeof raw !== 'object' || raw === null) return {};
  const o = raw as Record<string, unknown>;
  const binds = (v: unknown): Record<string, StagedBind[]> => {
    const out: Record<string, StagedBind[]> = {};
    if (typeof v !== 'object' || v === null) return out;
    for (const [k, list] of Object.entries(v)) {
      if (!Array.isArray(list)) continue;
      out[k] = list.filter(
        (b): b is StagedBind => typeof b === 'object' && b !== null && typeof (b as StagedBind).staging === 'string' && typeof (b as StagedBind).callerPath === 'string',
      );
    }
    return out;
  };
  const networks: Record<string, string> = {};
  if (typeof o.networks === 'object' && o.networks !== null) {
    for (const [id, name] of Object.entries(o.networks)) if (typeof name === 'string') networks[id] = name;
  }
  const unlabelled = Array.isArray(o.unlabelled) ? o.unlabelled.filter((n): n is string => typeof n === 'string') : [];
  return { containers: binds(o.containers), volumes: binds(o.volumes), networks, unlabelled };
}
