/**
 * The process user of a workload from a Docker-style user string ("", "name", "uid", "name:group",
 * "uid:gid", "name:gid", "uid:group") and the image's own /etc/passwd and /etc/group, resolved the
 * way runc and dockerd resolve `docker run --user` and an image's USER:
 * - a numeric user is a uid even when no passwd entry has it (its gid is then 0);
 * - a matched user brings its primary gid, and, when no group is given, the gids of the groups that
 *   list it as a member;
 * - a named user or group that the files lack is an error; an explicit group replaces the primary gid.
 */

export interface ProcessUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
}

/** The image files the resolution reads; undefined when the image has none. */
export interface EtcFiles {
  passwd?: string | undefined;
  group?: string | undefined;
}

export class UserLookupError extends Error {
  override name = 'UserLookupError';
}

const MAX_ID = 2 ** 31 - 1;

/** Whether `user` names anything the image's files decide ("" is root; "uid:gid" needs no lookup). */
export function needsLookup(user: string): boolean {
  return user !== '' && !/^\d+:\d+$/.test(user);
}

interface Entry {
  name: string;
  id: number;
  /** passwd: the primary gid; group: unused. */
  gid: number;
  /** group: the member names. */
  members: string[];
}

/** Parses passwd or group lines ("name:x:id:..."); malformed lines are skipped, as libc does. */
function parseEntries(text: string | undefined, kind: 'passwd' | 'group'): Entry[] {
  const out: Entry[] = [];
  for (const line of (text ?? '').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < (kind === 'passwd' ? 4 : 3) || !/^\d+$/.test(f[2]!)) continue;
    out.push({
      name: f[0]!,
      id: Number(f[2]),
      gid: kind === 'passwd' && /^\d+$/.test(f[3]!) ? Number(f[3]) : 0,
      members: kind === 'group' ? (f[3] ?? '').split(',').filter((m) => m !== '') : [],
    });
  }
  return out;
}

function numeric(part: string): number | undefined {
  if (!/^\d+$/.test(part)) return undefined;
  const n = Number(part);
  if (n > MAX_ID) throw new UserLookupError(`id ${part} is out of range (0 to ${MAX_ID})`);
  return n;
}

export function resolveUser(user: string, etc: EtcFiles): ProcessUser {
  if (user === '') return { uid: 0, gid: 0 };
  const colon = user.indexOf(':');
  const userPart = colon < 0 ? user : user.slice(0, colon);
  const groupPart = colon < 0 ? '' : user.slice(colon + 1);
  if (userPart === '' || groupPart.includes(':')) throw new UserLookupError(`user "${user}" is not user[:group]`);

  const uidArg = numeric(userPart);
  const passwdEntry = parseEntries(etc.passwd, 'passwd').find((u) => (uidArg === undefined ? u.name === userPart : u.id === uidArg));
  if (passwdEntry === undefined && uidArg === undefined) {
    throw new UserLookupError(`unable to find user ${userPart}: no matching entries in the image's /etc/passwd`);
  }
  const resolved: ProcessUser = passwdEntry === undefined ? { uid: uidArg!, gid: 0 } : { uid: passwdEntry.id, gid: passwdEntry.gid };

  const groups = parseEntries(etc.group, 'group');
  if (groupPart !== '') {
    const gidArg = numeric(groupPart);
    const groupEntry = groups.find((g) => (gidArg === undefined ? g.name === groupPart : g.id === gidArg));
    if (groupEntry === undefined && gidArg === undefined) {
      throw new UserLookupError(`unable to find group ${groupPart}: no matching entries in the image's /etc/group`);
    }
    resolved.gid = groupEntry?.id ?? gidArg!;
  } else if (passwdEntry !== undefined) {
    const member = groups.filter((g) => g.members.includes(passwdEntry.name)).map((g) => g.id);
    if (member.length > 0) resolved.additionalGids = member;
  }
  return resolved;
}
