import { firstValue, type Values } from '../../gohttp/url.js';
import type { Outcome, Reply } from '../../intercept.js';
import { type Caller, OWNER_LABEL } from '../caller.js';
import { ProxyError } from '../../errors.js';
import type { DockerdClient } from '../dockerd.js';
import { fromPlain, isObject, isString, JsonNumber } from '../gojson.js';
import type { Ownership } from '../ownership.js';
import { type DockerRequest, type ForwardParts, forwardTarget } from '../request.js';
import type { CallerRecords, StagedBind } from '../records.js';
import type { StagingArea } from '../staging.js';
import type { TranslationContext } from '../translate.js';
import { scopedEvents } from './events.js';
import { type PruneKind, pruneRecorded, readPruneFilters, untilNanos } from './prune.js';
import type { LocalAnswer } from './not-in-swarm.js';
import { jsonOf, jsonReply, replyFrom } from './reply.js';
import { AnswerRewriter } from './rewrite.js';

/** Request headers a locally fetched answer depends on (the rest is the client's own business). */
const PASSED_HEADERS = ['Content-Type', 'X-Registry-Auth'];

/**
 * The requests whose answers the caller must see as its own dockerd's: the Docker-aware layer sends
 * them to dockerd itself, keeps its records from the answer (what was created, what went), and
 * answers the caller with dockerd's status and headers and a body rewritten by AnswerRewriter.
 */
export class ScopedAnswers {
  private readonly rewrite: AnswerRewriter;
  /** Prunes under way for this caller (by dockerd's guard: containers and networks share one). */
  private readonly pruning = new Set<'containers' | 'volumes'>();

  constructor(
    private readonly caller: Caller,
    private readonly dockerd: DockerdClient,
    private readonly records: CallerRecords,
    private readonly ownership: Ownership,
    private readonly staging: StagingArea,
  ) {
    this.rewrite = new AnswerRewriter(records);
  }

  /** The request as read, with the handler's decisions (`parts`), sent by the Docker-aware layer itself. */
  private send(r: DockerRequest, parts: Pick<ForwardParts, 'vars' | 'form'>, body?: Buffer) {
    const headers: Record<string, string> = {};
    for (const name of PASSED_HEADERS) {
      const value = r.head.go.header.get(name)?.[0];
      if (value !== undefined && !(name === 'Content-Type' && r.bodyIsForm)) headers[name] = value;
    }
    return this.dockerd.send(r.method, forwardTarget(r, parts), { headers, ...(body === undefined ? {} : { body }) });
  }

  private identity(): string {
    return this.dockerd.dockerdHeaders?.lines() ?? '';
  }

  /** A locally made answer (swarm and plugin areas). */
  local(answer: LocalAnswer): Promise<Outcome> {
    if (answer.message !== undefined) return Promise.resolve(jsonReply(answer.status, fromPlain({ message: answer.message }), this.identity()));
    return Promise.resolve(jsonReply(answer.status, fromPlain(answer.json), this.identity()));
  }

  async createContainer(r: DockerRequest, body: Buffer, binds: StagedBind[]): Promise<Reply> {
    const done = this.records.beginCreate();
    try {
      const answer = await this.send(r, {}, body).catch(async (err: unknown) => {
        await this.releaseAll(binds);
        throw err;
      });
      const created = jsonOf(answer) as { Id?: unknown } | undefined;
      if (answer.status === 201 && typeof created?.Id === 'string') {
        await this.records.addContainer(created.Id, binds);
        await this.recordAnonymousVolumes(created.Id);
        return replyFrom(answer);
      }
      await this.releaseAll(binds);
      if (answer.status === 409) return this.hideForeignId(answer);
      return replyFrom(answer);
    } finally {
      done();
    }
  }

  /** Volumes dockerd made for a new container (anonymous ones, an image's VOLUME) are the caller's. */
  private async recordAnonymousVolumes(id: string): Promise<void> {
    const { json } = await this.dockerd.call('GET', `/containers/${id}/json`);
    const mounts = (json as { Mounts?: Array<{ Type?: string; Name?: string }> } | undefined)?.Mounts ?? [];
    for (const m of mounts) {
      if (m.Type === 'volume' && m.Name !== undefined && !this.records.hasVolume(m.Name)) await this.records.addVolume(m.Name, [], { labelled: false });
    }
  }

  /** A name clash names the container holding the name: another caller's id is left out. */
  private hideForeignId(answer: Awaited<ReturnType<DockerdClient['send']>>): Reply {
    const json = jsonOf(answer) as { message?: unknown } | undefined;
    const message = typeof json?.message === 'string' ? json.message : '';
    const m = /^(Conflict\. The container name "[^"]*" is already in use) by container "([0-9a-f]+)"(\..*)$/s.exec(message);
    if (m === null || this.records.hasContainer(m[2]!)) return replyFrom(answer);
    return replyFrom({ ...answer, body: Buffer.from(`${JSON.stringify({ message: `${m[1]}${m[3]}` })}\n`) });
  }

  private async releaseAll(binds: StagedBind[]): Promise<void> {
    for (const b of binds) await this.staging.release(b.staging);
  }

  async forgetContainer(id: string): Promise<void> {
    const { staged, done } = this.records.removeContainer(id);
    // Unmounted at once (release unmounts before its first await): the answer has gone out already.
    await Promise.all([done, ...staged.map((p) => this.staging.release(p))]);
  }

  async forgetVolume(name: string): Promise<void> {
    const { staged, done } = this.records.removeVolume(name);
    // Unmounted at once (release unmounts before its first await): the answer has gone out already.
    await Promise.all([done, ...staged.map((p) => this.staging.release(p))]);
  }

  async containerInspect(r: DockerRequest, parts: Pick<ForwardParts, 'vars'>): Promise<Reply> {
    return replyFrom(await this.send(r, parts), (tree) => this.rewrite.containerInspect(tree));
  }

  /** `since` and `before` name containers: another caller's is "No such container", as an absent one. */
  async containerList(r: DockerRequest, parts: { form: Values }): Promise<Reply> {
    const filters = Buffer.from(firstValue(parts.form, 'filters'), 'latin1').toString('utf8');
    if (filters !== '') {
      const parsed = JSON.parse(filters) as Record<string, unknown>;
      for (const key of ['since', 'before']) {
        const v = parsed[key];
        const refs = Array.isArray(v) ? v.map(String) : typeof v === 'object' && v !== null ? Object.keys(v) : [];
        for (const ref of refs) {
          // dockerd's list answers a name it cannot find with a 500 in these words.
          await this.ownership.container(ref).catch(() => {
            throw new ProxyError(500, `no such container ${ref}`);
          });
        }
      }
    }
    return replyFrom(await this.send(r, parts), (tree) => {
      if (!Array.isArray(tree)) return;
      const kept = tree.filter((c) => this.rewrite.ownsContainer(c));
      for (const c of kept) this.rewrite.containerSummary(c);
      tree.splice(0, tree.length, ...kept);
    });
  }

  async volume(r: DockerRequest): Promise<Reply> {
    return replyFrom(await this.send(r, {}), (tree) => this.rewrite.volume(tree));
  }

  async volumeList(r: DockerRequest): Promise<Reply> {
    return replyFrom(await this.send(r, {}), (tree) => this.rewrite.volumeList(tree));
  }

  async network(r: DockerRequest, parts: Pick<ForwardParts, 'vars'>): Promise<Reply> {
    return replyFrom(await this.send(r, parts), (tree) => this.rewrite.network(tree));
  }

  /** The caller's networks and the shared ones (bridge, host, none), as a dockerd of its own lists them. */
  async networkList(r: DockerRequest): Promise<Reply> {
    return replyFrom(await this.send(r, {}), (tree) => {
      if (!Array.isArray(tree)) return;
      const kept = tree.filter((n) => {
        if (!isObject(n)) return false;
        const id = n.get('Id');
        const name = n.get('Name');
        return (isString(id) && this.records.hasNetwork(id)) || (isString(name) && ['bridge', 'host', 'none'].includes(name));
      });
      for (const n of kept) this.rewrite.network(n);
      tree.splice(0, tree.length, ...kept);
    });
  }

  async images(r: DockerRequest): Promise<Reply> {
    return replyFrom(await this.send(r, {}), (tree) => {
      if (Array.isArray(tree)) for (const image of tree) this.rewrite.image(image);
      else this.rewrite.image(tree);
    });
  }

  /** `/info` counts only the caller's containers (images are shared and stay counted). */
  async info(r: DockerRequest): Promise<Reply> {
    const filters = encodeURIComponent(JSON.stringify({ label: [`${OWNER_LABEL}=${this.caller.id}`] }));
    const { json } = await this.dockerd.call('GET', `/containers/json?all=1&filters=${filters}`);
    const states = ((json as Array<{ Id: string; State: string }> | undefined) ?? []).filter((c) => this.records.hasContainer(c.Id)).map((c) => c.State);
    return replyFrom(await this.send(r, {}), (tree) => {
      if (!isObject(tree)) return;
      const running = states.filter((s) => s === 'running').length;
      const paused = states.filter((s) => s === 'paused').length;
      tree.set('Containers', new JsonNumber(String(states.length)));
      tree.set('ContainersRunning', new JsonNumber(String(running)));
      tree.set('ContainersPaused', new JsonNumber(String(paused)));
      tree.set('ContainersStopped', new JsonNumber(String(states.length - running - paused)));
    });
  }

  async diskUsage(r: DockerRequest): Promise<Reply> {
    return replyFrom(await this.send(r, {}), (tree) => this.rewrite.diskUsage(tree));
  }

  async createVolume(r: DockerRequest, body: Buffer, name: string, ctx: TranslationContext, labelled: boolean): Promise<Reply> {
    if (name !== '') {
      const existing = await this.dockerd.inspectVolume(name);
      if (existing !== undefined && !this.records.hasVolume(name)) {
        await ctx.releaseAll();
        throw new ProxyError(409, `create ${name}: volume name is already in use`);
      }
    }
    const done = this.records.beginCreate(name);
    try {
      const answer = await this.send(r, {}, body);
      const created = jsonOf(answer) as { Name?: unknown } | undefined;
      if ((answer.status === 201 || answer.status === 200) && typeof created?.Name === 'string') {
        await this.records.addVolume(created.Name, ctx.binds, { labelled });
      } else {
        await ctx.releaseAll();
      }
      return replyFrom(answer, (tree) => this.rewrite.volume(tree));
    } finally {
      done();
    }
  }

  async createNetwork(r: DockerRequest, body: Buffer, name: string): Promise<Reply> {
    const done = this.records.beginCreate(name);
    try {
      const answer = await this.send(r, {}, body);
      const created = jsonOf(answer) as { Id?: unknown } | undefined;
      if (answer.status === 201 && typeof created?.Id === 'string') await this.records.addNetwork(created.Id, name);
      return replyFrom(answer);
    } finally {
      done();
    }
  }

  /**
   * A prune of the caller's recorded objects (answers/prune.ts). dockerd reads the caller's filters
   * first, in its own prune of the same kind narrowed to an owner no object has (`check`): it deletes
   * nothing and answers a bad filter or a prune already running in its own words. One prune of a kind
   * at a time per caller, as dockerd runs one at a time.
   */
  async prune(r: DockerRequest, check: Pick<ForwardParts, 'form'>, kind: PruneKind): Promise<Reply> {
    // dockerd's containers and networks prunes share one guard; volumes have their own.
    const guard = kind === 'volumes' ? 'volumes' : 'containers';
    if (this.pruning.has(guard)) throw new ProxyError(409, 'a prune operation is already running');
    this.pruning.add(guard);
    try {
      const filters = readPruneFilters(r.form);
      const checked = await this.send(r, check);
      if (checked.status !== 200) return replyFrom(checked);
      const untilValue = kind === 'volumes' ? undefined : filters.get('until')?.[0];
      const until = untilValue === undefined ? undefined : untilNanos(untilValue, Date.now());
      const report = await pruneRecorded(kind, filters, until, this.dockerd, this.records, this);
      const deleted = kind === 'volumes' || report.deleted.length > 0 ? report.deleted : null;
      const reclaimed = Number(report.reclaimed);
      const json =
        kind === 'containers' ? { ContainersDeleted: deleted, SpaceReclaimed: reclaimed }
          : kind === 'volumes' ? { VolumesDeleted: deleted, SpaceReclaimed: reclaimed }
            : { NetworksDeleted: deleted };
      return jsonReply(200, fromPlain(json), this.identity());
    } finally {
      this.pruning.delete(guard);
    }
  }

  /** The event stream, scoped: dockerd's stream read line by line, the caller's events handed on. */
  async events(r: DockerRequest): Promise<Reply> {
    const upstream = await this.dockerd.stream('GET', forwardTarget(r));
    const { res, headers } = upstream;
    if (res.statusCode !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      return replyFrom({ status: res.statusCode ?? 500, headers, body: Buffer.concat(chunks) });
    }
    const events = scopedEvents(res, this.caller.id, this.records);
    // Ended by the data path when the client goes: the wait for dockerd's next event ends with it.
    const iterator: AsyncIterator<Buffer> = {
      next: () => events.next(),
      return: () => {
        upstream.abort();
        res.destroy();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
    const body: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => iterator };
    return { reply: { status: 200, headers: headers.filter(([n]) => !['content-length', 'transfer-encoding', 'connection'].includes(n.toLowerCase())), body } };
  }
}

