import { isAbsolute } from 'node:path';

/** A bad spec: the message names the field ("spec.network.interfaces[0].mtu: ..."). */
export class SpecError extends Error {
  override name = 'SpecError';
}

export type Fields = Record<string, unknown>;

/** Readers for one JSON object, each throwing with the field's full name; unknown keys refused. */
export function objectAt(value: unknown, where: string, known: readonly string[]): Fields {
  const fields = recordAt(value, where);
  for (const key of Object.keys(fields)) {
    if (!known.includes(key)) throw new SpecError(`${where}: unknown field "${key}" (known: ${known.join(', ')})`);
  }
  return fields;
}

/** An object whose keys are data (sysctl names, environment variables), not fields. */
export function recordAt(value: unknown, where: string): Fields {
  if (!isFields(value)) throw new SpecError(`${where}: expected an object`);
  return value;
}

export function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function stringAt(value: unknown, where: string, pattern?: RegExp): string {
  if (typeof value !== 'string' || value.includes('\0')) throw new SpecError(`${where}: expected a string`);
  if (pattern !== undefined && !pattern.test(value)) throw new SpecError(`${where}: ${JSON.stringify(value)} does not match ${pattern}`);
  return value;
}

export function pathAt(value: unknown, where: string): string {
  const path = stringAt(value, where);
  if (!isAbsolute(path)) throw new SpecError(`${where}: expected an absolute path, got ${JSON.stringify(path)}`);
  return path;
}

export function integerAt(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new SpecError(`${where}: expected an integer from ${min} to ${max}`);
  }
  return value;
}

export function numberAt(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new SpecError(`${where}: expected a number from ${min} to ${max}`);
  }
  return value;
}

export function booleanAt(value: unknown, where: string): boolean {
  if (typeof value !== 'boolean') throw new SpecError(`${where}: expected true or false`);
  return value;
}

export function arrayAt<T>(value: unknown, where: string, item: (v: unknown, where: string) => T): T[] {
  if (!Array.isArray(value)) throw new SpecError(`${where}: expected an array`);
  return value.map((v, i) => item(v, `${where}[${i}]`));
}

/** One of a few literal values. */
export function oneOf<T extends string>(value: unknown, where: string, choices: readonly T[]): T {
  const choice = choices.find((c) => c === value);
  if (choice === undefined) throw new SpecError(`${where}: expected ${choices.map((c) => JSON.stringify(c)).join(' or ')}`);
  return choice;
}

/** Wraps a parser that throws plain Errors (addresses) so the message names the field. */
export function parsedAt<T>(value: unknown, where: string, parse: (text: string) => T): T {
  const text = stringAt(value, where);
  try {
    return parse(text);
  } catch (err) {
    throw new SpecError(`${where}: ${(err as Error).message}`);
  }
}

export function optional<T>(value: unknown, read: (v: unknown) => T): T | undefined {
  return value === undefined ? undefined : read(value);
}
