/**
 * `POST /build`'s parameters as dockerd 20.10 reads them (newImageBuildOptions: first values, `t`,
 * `extrahosts` and `securityopt` all values), each decided for one caller:
 * - `networkmode`: `host` is the guest's network namespace (host namespaces); `container:<ref>` and a
 *   network name are references, resolved to the caller's own (dockerd reads them as a container or a
 *   network anywhere); `default`, `bridge`, `none` pass.
 * - `cgroupparent`: the cgroup parents switch.
 * - `remote`: empty (the body is the context), `client-session` and `upload-request` (BuildKit reads the
 *   context from the caller's own session or upload) pass; anything else is a URL or git remote that
 *   dockerd or its BuildKit fetches itself, as root in the guest's own network namespace (its loopback
 *   services, ssh with the guest's keys): allowed only where host namespaces are.
 * - `session`: a BuildKit session serves context files, secrets, ssh agents, registry credentials and
 *   receives `outputs`: it must be one the caller registered on its own socket (`POST /session`).
 * - `buildid`: build ids are one namespace in dockerd (`/build/cancel` cancels by id, `upload-request:`
 *   feeds a waiting build): made the caller's own by a prefix, as `/build/cancel`'s `id` is.
 * - `outputs`: BuildKit's exporters (moby, local, tar) write into the image store or the caller's own
 *   session: pass. `securityopt` and `squash`: dockerd refuses them itself on Linux and without
 *   experimental mode: pass, so the answer is dockerd's.
 * - Everything else (`dockerfile`, scoped to the context; `t`; `q`; `nocache`; `rm`; `forcerm`; `pull`;
 *   `memory`, `memswap`, `cpushares`, `cpusetcpus`, `cpusetmems`, `cpuperiod`, `cpuquota`, `shmsize`,
 *   `ulimits`, as a create body may set them; `extrahosts`; `isolation`, which dockerd validates;
 *   `platform`; `target`; `buildargs`; `labels`; `cachefrom`, images; `version`) passes as read.
 */
import { firstValue, type Values } from '../gohttp/url.js';
import { ProxyError } from '../errors.js';
import type { Caller } from './caller.js';
import type { Ownership } from './ownership.js';
import { refuse } from './policy.js';

/**
 * The BuildKit sessions a caller registered on its own socket (bounded: the oldest are forgotten). A
 * client sends its build beside its session, so a build may name a session a moment before it is
 * registered: it waits for it as dockerd's BuildKit does (5 s).
 */
export class CallerSessions {
  private readonly ids = new Set<string>();
  private readonly waiting = new Map<string, Set<() => void>>();

  constructor(private readonly max = 256) {}

  add(id: string): void {
    if (id === '') return;
    this.ids.delete(id);
    this.ids.add(id);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value!);
    for (const wake of this.waiting.get(id) ?? []) wake();
  }

  /** True when the caller registered `id`, now or within `waitMs`. */
  registered(id: string, waitMs = 5000): Promise<boolean> {
    if (this.ids.has(id)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiters = this.waiting.get(id) ?? new Set<() => void>();
      this.waiting.set(id, waiters);
      const finish = (found: boolean) => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (waiters.size === 0) this.waiting.delete(id);
        resolve(found);
      };
      const wake = () => finish(true);
      const timer = setTimeout(() => finish(false), waitMs);
      waiters.add(wake);
    });
  }
}

const CONTEXT_FROM_CALLER = new Set(['', 'client-session', 'upload-request']);
const UPLOAD_PREFIX = 'upload-request:';

/** A build id in the caller's own part of dockerd's one namespace of build ids. */
export function callerBuildId(callerId: string, id: string): string {
  if (id === '') return id;
  if (id.startsWith(UPLOAD_PREFIX)) return `${UPLOAD_PREFIX}${callerId}.${id.slice(UPLOAD_PREFIX.length)}`;
  return `${callerId}.${id}`;
}

/** The parameters forwarded for a caller's `POST /build`, or a refusal naming the parameter. */
export async function vetBuildOptions(form: Values, caller: Caller, ownership: Pick<Ownership, 'container' | 'network'>, sessions: Pick<CallerSessions, 'registered'>): Promise<Values> {
  const out = new Map(form);
  const set = (key: string, value: string) => out.set(key, [value]);
  const policy = caller.policy;
  const networkMode = firstValue(form, 'networkmode');
  if (networkMode === 'host' && !policy.hostNamespaces) refuse(policy, 'build networkmode=host', 'host namespaces are off');
  if (networkMode.startsWith('container:')) {
    const { id } = await ownership.container(networkMode.slice('container:'.length));
    set('networkmode', `container:${id}`);
  } else if (!['', 'default', 'bridge', 'none', 'host'].includes(networkMode)) {
    set('networkmode', await ownership.network(networkMode, { sharedAllowed: true }));
  }
  if (firstValue(form, 'cgroupparent') !== '' && !policy.cgroupParent) refuse(policy, 'build cgroupparent', 'cgroup parents are off');
  if (!CONTEXT_FROM_CALLER.has(firstValue(form, 'remote')) && !policy.hostNamespaces) {
    refuse(policy, 'build remote', "dockerd would fetch it from the guest's own network namespace; host namespaces are off");
  }
  const session = firstValue(form, 'session');
  if (session !== '' && !(await sessions.registered(session))) {
    throw new ProxyError(403, 'concierge: build session is not a BuildKit session of this workload (POST /session on its own socket)');
  }
  if (out.has('buildid')) set('buildid', callerBuildId(caller.id, firstValue(form, 'buildid')));
  return out;
}
