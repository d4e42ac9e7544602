// Registry authorization as the distribution spec describes it: a request answered 401 carries a
// challenge; Basic is answered with the configured credentials, Bearer with a token fetched from the
// challenge's realm (for the challenge's service and scope, with the credentials when there are any).
// Tokens are kept per origin and scope until they expire.
import type { RegistryCredentials } from './settings.js';
import { RegistryError } from './errors.js';
import { isJsonObject } from './manifest.js';
import { readBody, type Transport } from './transport.js';
import { parseChallenges } from './www-authenticate.js';

interface Token {
  value: string;
  expiresAt: number;
}

const tokenBodyLimit = 1024 * 1024;

export class Authorizer {
  /** `origin scope` -> the Authorization value that last worked or was issued. */
  private readonly known = new Map<string, { header: string; expiresAt: number }>();

  constructor(private readonly transport: Transport) {}

  /** The Authorization value to send first, if one is known for this origin and scope. */
  cached(origin: string, scope: string): string | undefined {
    const entry = this.known.get(`${origin} ${scope}`);
    if (entry === undefined || entry.expiresAt <= Date.now()) return undefined;
    return entry.header;
  }

  /** Answers a 401's challenge; throws 'unauthorized' when it cannot. */
  async answer(origin: string, scope: string, challengeHeader: string | undefined, credentials: RegistryCredentials | undefined,
    ca: string | undefined, signal?: AbortSignal): Promise<string> {
    const challenges = parseChallenges(challengeHeader ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    let header: string;
    let expiresAt = Date.now() + 3_600_000;
    if (bearer !== undefined) {
      const realm = bearer.params.get('realm');
      if (realm === undefined) throw new RegistryError('protocol', `${origin} asked for a bearer token without naming a realm`);
      const token = await this.fetchToken(realm, bearer.params.get('service'), bearer.params.get('scope') ?? scope, credentials, ca, signal);
      header = `Bearer ${token.value}`;
      expiresAt = token.expiresAt;
    } else if (challenges.some((c) => c.scheme === 'basic')) {
      if (credentials === undefined) throw new RegistryError('unauthorized', `${origin} requires credentials and the registries settings give none`);
      header = credentials.basic();
    } else {
      throw new RegistryError('unauthorized', `${origin} refused the request (401) without a challenge concierge can answer`);
    }
    this.known.set(`${origin} ${scope}`, { header, expiresAt });
    return header;
  }

  forget(origin: string, scope: string): void {
    this.known.delete(`${origin} ${scope}`);
  }

  private async fetchToken(realm: string, service: string | undefined, scope: string, credentials: RegistryCredentials | undefined,
    ca: string | undefined, signal?: AbortSignal): Promise<Token> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError('protocol', `token realm ${JSON.stringify(realm)} is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RegistryError('protocol', `token realm ${realm} is not http(s)`);
    if (service !== undefined) url.searchParams.set('service', service);
    if (scope !== '') url.searchParams.set('scope', scope);
    const answer = await this.transport.request(url.origin, ca, {
      path: `${url.pathname}${url.search}`,
      headers: credentials === undefined ? {} : { authorization: credentials.basic() },
      ...(signal === undefined ? {} : { signal }),
    });
    if (answer.statusCode === 401 || answer.statusCode === 403) {
      await answer.body.dump();
      throw new RegistryError('unauthorized', credentials === undefined
        ? `the token server ${url.origin} requires credentials and the registries settings give none`
        : `the token server ${url.origin} rejected the credentials of user ${JSON.stringify(credentials.username)} (${answer.statusCode})`);
    }
    if (answer.statusCode !== 200) {
      await answer.body.dump();
      throw new RegistryError('unauthorized', `the token server ${url.origin} answered ${answer.statusCode}`);
    }
    const text = (await readBody(answer.body, tokenBodyLimit, `the token from ${url.origin}`)).toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new RegistryError('protocol', `the token server ${url.origin} sent no JSON`);
    }
    if (!isJsonObject(parsed)) throw new RegistryError('protocol', `the token server ${url.origin} sent no token`);
    const doc = parsed;
    const value = typeof doc.token === 'string' && doc.token !== '' ? doc.token
      : typeof doc.access_token === 'string' && doc.access_token !== '' ? doc.access_token : undefined;
    if (value === undefined) throw new RegistryError('protocol', `the token server ${url.origin} sent no token`);
    // The spec's default lifetime is 60 s; renew a little early.
    const lifetime = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
    return { value, expiresAt: Date.now() + Math.max(lifetime - 10, 1) * 1000 };
  }
}
