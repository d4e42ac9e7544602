// What the proxy counts, as a port: the composition root plugs in an implementation (the instance's
// metrics); the default counts nothing. Called on the hot path with fixed values only, so an
// implementation can bind every label set once and increment without allocating.

/** forwarded: the data path alone; intercepted: decided by the Docker-aware layer. */
export type RouteClass = 'forwarded' | 'intercepted';

/** Why the Docker-aware layer refused a request. */
export type RefusalRule = 'forbidden' | 'not-found' | 'conflict' | 'ambiguous-body' | 'invalid-body' | 'other';

export interface ProxyCounters {
  /** An answer's head reached the client (dockerd's, or the proxy's own refusal). */
  answered(route: RouteClass, status: number): void;
  refused(rule: RefusalRule): void;
  /** A mount-carrying field was rewritten to a guest path. */
  bindTranslated(): void;
}

const none: ProxyCounters = { answered: () => undefined, refused: () => undefined, bindTranslated: () => undefined };

let current: ProxyCounters = none;

/** Chosen once by the composition root. */
export function useProxyCounters(counters: ProxyCounters): void {
  current = counters;
}

export function proxyCounters(): ProxyCounters {
  return current;
}

/** The rule a refusal's status stands for. */
export function ruleOfStatus(status: number): RefusalRule {
  switch (status) {
    case 403: return 'forbidden';
    case 404: return 'not-found';
    case 409: return 'conflict';
    case 400: case 413: return 'invalid-body';
    default: return 'other';
  }
}
