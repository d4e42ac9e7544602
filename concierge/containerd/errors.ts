import { Status, statusName, type StatusCode } from './grpc-channel.js';

/** A failed containerd call: the gRPC status code, and a message naming the call. */
export class ContainerdError extends Error {
  override name = 'ContainerdError';
  constructor(readonly call: string, readonly code: StatusCode, readonly details: string) {
    super(`containerd ${call}: ${details} (${statusName(code)})`);
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof ContainerdError && err.code === Status.NOT_FOUND;
export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof ContainerdError && err.code === Status.ALREADY_EXISTS;

/** Runs a call whose NOT_FOUND answer means "already done" (removals). */
export async function ignoreNotFound<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
