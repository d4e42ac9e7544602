/** Why a pull failed, in terms a spec author can act on. */
export type PullFailure =
  | 'unreachable' // no connection, TLS refused, DNS
  | 'unauthorized' // credentials missing or wrong
  | 'not-found' // unknown repository, tag or digest
  | 'platform' // nothing for the guest's platform
  | 'digest' // bytes that do not match their digest
  | 'stalled' // the registry stopped sending
  | 'protocol'; // an answer the distribution API does not allow

/** A failed registry operation; the message names the image and the reason, never a credential. */
export class RegistryError extends Error {
  override name = 'RegistryError';
  constructor(readonly reason: PullFailure, message: string) {
    super(message);
  }
}

/** The same failure, told about a given image: "pull registry.test:5000/ci/job:1: <reason>". */
export function aboutImage(err: unknown, image: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof RegistryError) return new RegistryError(err.reason, `pull ${image}: ${message}`);
  return new Error(`pull ${image}: ${message}`);
}
