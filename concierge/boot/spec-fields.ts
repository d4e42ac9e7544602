import { isAbsolute } from 'node:path';

/** A bad instance spec: the message names the field ("spec.network.interfaces[0].mtu: ..."). */
export class InstanceSpecError extends Error {
  override name = 'InstanceSpecError';
}

export type Fields = Record<string, unknown>;

/** Readers for one JSON object, each throwing with the field's full name; unknown keys refused. */
export function objectAt(value: unknown, where: string, known: readonly string[]): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InstanceSpecError(`${where}: expected an object`);
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new InstanceSpecError(`${where}: unknown field "${key}" (known: ${known.join(', ')})`);
  }
  return value as Fields;
}

export function stringAt(value: unknown, where: string, pattern?: RegExp): string {
  if (typeof value !== 'string' || value.includes('\0')) throw new InstanceSpecError(`${where}: expected a string`);
  if (pattern !== undefined && !pattern.test(value)) throw new InstanceSpecError(`${where}: ${JSON.stringify(value)} does not match ${pattern}`);
  return value;
}

export function pathAt(value: unknown, where: string): string {
  const path = stringAt(value, where);
  if (!isAbsolute(path)) throw new InstanceSpecError(`${where}: expected an absolute path, got ${JSON.stringify(path)}`);
  return path;
}

export function integerAt(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InstanceSpecError(`${where}: expected an integer from ${min} to ${max}`);
  }
  return value;
}

export function booleanAt(value: unknown, where: string): boolean {
  if (typeof value !== 'boolean') throw new InstanceSpecError(`${where}: expected true or false`);
  return value;
}

export function arrayAt<T>(value: unknown, where: string, item: (v: unknown, where: string) => T): T[] {
  if (!Array.isArray(value)) throw new InstanceSpecError(`${where}: expected an array`);
  return value.map((v, i) => item(v, `${where}[${i}]`));
}

/** Wraps a parser that throws plain Errors (addresses) so the message names the field. */
export function parsedAt<T>(value: unknown, where: string, parse: (text: string) => T): T {
  const text = stringAt(value, where);
  try {
    return parse(text);
  } catch (err) {
    throw new InstanceSpecError(`${where}: ${(err as Error).message}`);
  }
}

export function optional<T>(value: unknown, read: (v: unknown) => T): T | undefined {
  return value === undefined ? undefined : read(value);
}
