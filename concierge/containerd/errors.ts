import { status } from '@grpc/grpc-js';

/** A failed containerd call: the gRPC status code, and a message naming the call. */
export class ContainerdError extends Error {
  override name = 'ContainerdError';
  constructor(readonly call: string, readonly code: status, readonly details: string) {
    super(`containerd ${call}: ${details} (${status[code] ?? code})`);
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof ContainerdError && err.code === status.NOT_FOUND;
export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof ContainerdError && err.code === status.ALREADY_EXISTS;

/** Runs a call whose NOT_FOUND answer means "already done" (removals). */
export async function ignoreNotFound<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
