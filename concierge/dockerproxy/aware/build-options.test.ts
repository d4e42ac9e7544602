import { describe, expect, it } from 'vitest';
import { ProxyError } from '../errors.js';
import { firstValue, parseQuery, type Values } from '../gohttp/url.js';
import { callerBuildId, CallerSessions, vetBuildOptions } from './build-options.js';
import { type Caller, DEFAULT_POLICY, type PrivilegePolicy } from './caller.js';

const TRUSTED: PrivilegePolicy = { ...DEFAULT_POLICY, name: 'trusted', hostNamespaces: true, cgroupParent: true };

/** Ownership as the caller `job` sees it: its own container `mine` and network `mynet`; nothing else exists for it. */
const ownership = {
  container: (ref: string) => (ref === 'mine' ? Promise.resolve({ id: 'c'.repeat(64), name: '/mine' }) : Promise.reject(new ProxyError(404, `No such container: ${ref}`))),
  network: (ref: string) => (ref === 'mynet' ? Promise.resolve('n'.repeat(64)) : Promise.reject(new ProxyError(404, `network ${ref} not found`))),
};

function caller(policy: PrivilegePolicy): Caller {
  return { id: 'job', rootfs: '/nowhere', mounts: [], policy };
}

async function vet(query: string, policy: PrivilegePolicy = DEFAULT_POLICY, sessions = new CallerSessions()): Promise<Values> {
  return vetBuildOptions(parseQuery(query).values, caller(policy), ownership, sessions);
}

async function refusal(query: string, policy: PrivilegePolicy = DEFAULT_POLICY): Promise<ProxyError> {
  const err = await vet(query, policy).then(() => undefined, (e: unknown) => e);
  if (!(err instanceof ProxyError)) throw new Error(`${query}: not refused`);
  return err;
}

describe('POST /build parameters', () => {
  it('refuses the host network, a cgroup parent and a remote context dockerd fetches itself, naming the parameter and the policy', async () => {
    for (const [query, field] of [
      ['networkmode=host', 'build networkmode=host'],
      ['cgroupparent=/x', 'build cgroupparent'],
      ['remote=http://127.0.0.1:8080/ctx.tar', 'build remote'],
      ['remote=https://example.test/repo.git%23main:sub', 'build remote'],
      ['remote=git@localhost:/srv/repo', 'build remote'],
      ['remote=github.com/a/b', 'build remote'],
    ] as const) {
      const err = await refusal(query);
      expect(err.status, query).toBe(403);
      expect(err.message, query).toContain(`${field} is not allowed by this workload's dockerPolicy "isolated"`);
    }
  });

  it('passes all of them under a policy that allows them', async () => {
    const out = await vet('networkmode=host&cgroupparent=/x&remote=http://127.0.0.1:8080/ctx.tar', TRUSTED);
    expect(firstValue(out, 'networkmode')).toBe('host');
    expect(firstValue(out, 'remote')).toBe('http://127.0.0.1:8080/ctx.tar');
  });

  it('reads the first value, as dockerd does: a harmless second value does not hide the first', async () => {
    expect((await refusal('networkmode=host&networkmode=none')).status).toBe(403);
    expect(firstValue(await vet('networkmode=none&networkmode=host'), 'networkmode')).toBe('none');
  });

  it('takes the contexts the caller itself sends', async () => {
    for (const remote of ['', 'client-session', 'upload-request']) {
      expect(firstValue(await vet(`remote=${remote}`), 'remote')).toBe(remote);
    }
  });

  it('resolves a container or network mode to the caller\'s own, and refuses a foreign one as absent', async () => {
    expect(firstValue(await vet('networkmode=container:mine'), 'networkmode')).toBe(`container:${'c'.repeat(64)}`);
    expect(firstValue(await vet('networkmode=mynet'), 'networkmode')).toBe('n'.repeat(64));
    expect((await refusal('networkmode=container:other')).status).toBe(404);
    expect((await refusal('networkmode=othernet')).status).toBe(404);
    for (const shared of ['default', 'bridge', 'none', '']) expect(firstValue(await vet(`networkmode=${shared}`), 'networkmode')).toBe(shared);
  });

  it('accepts only BuildKit sessions the caller registered', async () => {
    const sessions = new CallerSessions();
    sessions.add('s-own');
    expect(firstValue(await vet('session=s-own', DEFAULT_POLICY, sessions), 'session')).toBe('s-own');
    const err = await vetBuildOptions(parseQuery('session=s-other').values, caller(DEFAULT_POLICY), ownership, { registered: () => Promise.resolve(false) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProxyError);
    expect((err as ProxyError).message).toMatch(/build session/);
  });

  it('forgets the oldest sessions past its bound', async () => {
    const sessions = new CallerSessions(2);
    for (const id of ['a', 'b', 'c']) sessions.add(id);
    expect([await sessions.registered('a', 0), await sessions.registered('b', 0), await sessions.registered('c', 0)]).toEqual([false, true, true]);
  });

  it('waits for a session registered a moment after the build that names it', async () => {
    const sessions = new CallerSessions();
    const later = sessions.registered('s-late', 5000);
    sessions.add('s-late');
    expect(await later).toBe(true);
    expect(await sessions.registered('s-never', 10)).toBe(false);
  });

  it('puts build ids in the caller\'s own part of dockerd\'s namespace, upload requests included', async () => {
    expect(callerBuildId('job', 'abc')).toBe('job.abc');
    expect(callerBuildId('job', 'upload-request:abc')).toBe('upload-request:job.abc');
    expect(callerBuildId('job', '')).toBe('');
    expect(firstValue(await vet('buildid=abc'), 'buildid')).toBe('job.abc');
    expect((await vet('t=x')).has('buildid')).toBe(false);
  });

  it('passes what dockerd itself refuses or what stays inside the build (its answer is dockerd\'s)', async () => {
    const query = 'securityopt=seccomp%3Dunconfined&squash=1&isolation=hyperv&extrahosts=a%3A1.2.3.4&shmsize=1&ulimits=%5B%5D&outputs=%5B%5D&platform=linux%2Famd64&dockerfile=..%2F..%2Fetc%2Fpasswd&t=a&t=b';
    const out = await vet(query);
    expect(out).toEqual(parseQuery(query).values);
  });
});
