import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SpecError } from './spec.js';

/** Reads a JSON spec file; relative paths inside it are resolved against its directory. */
export async function readSpecFile(path: string): Promise<{ document: unknown; baseDir: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SpecError(`cannot read spec ${path}: ${(err as Error).message}`);
  }
  try {
    return { document: JSON.parse(text), baseDir: dirname(resolve(path)) };
  } catch (err) {
    throw new SpecError(`spec ${path} is not valid JSON: ${(err as Error).message}`);
  }
}
