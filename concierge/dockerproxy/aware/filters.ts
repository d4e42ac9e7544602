import { firstValue, type Values } from '../gohttp/url.js';
import { ProxyError } from '../errors.js';

/**
 * A request's `filters` parameter as dockerd reads it: the first value only, a JSON object (empty when
 * absent); anything else is a 400 before dockerd sees it.
 */
export function readFiltersObject(form: Values): Record<string, unknown> {
  const raw = Buffer.from(firstValue(form, 'filters'), 'latin1').toString('utf8');
  if (raw === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ProxyError(400, 'invalid filters: not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ProxyError(400, 'invalid filters');
  return parsed as Record<string, unknown>;
}
