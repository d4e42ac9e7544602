/**
 * A request's parameters as dockerd reads them: `httputils.ParseForm` calls Go's `Request.ParseForm`,
 * which for POST, PUT and PATCH reads an `application/x-www-form-urlencoded` body first and puts its
 * values BEFORE the query's; `FormValue` and `Form.Get` take the first value. dockerd answers 400
 * with Go's error when either part holds a pair Go dropped (';', a bad escape), so such requests are
 * refused here with the same text.
 */
import type { GoHeader } from './head.js';
import { parseQuery, type Values } from './url.js';

export const FORM_TYPE = 'application/x-www-form-urlencoded';

/** How a body's Content-Type reads for ParseForm. */
export type BodyType =
  /** The body is a form: ParseForm reads it (and nothing else can). */
  | 'form'
  /** A multipart form: Go's FormValue may parse it; never taken. */
  | 'multipart'
  /** Anything else: ParseForm leaves the body alone. */
  | 'other'
  /** A Content-Type whose reading by mime.ParseMediaType this module does not follow exactly. */
  | 'ambiguous';

/** The first Content-Type (Header.Get), read as mime.ParseMediaType would for ParseForm's choice. */
export function bodyType(header: GoHeader): BodyType {
  const raw = header.get('Content-Type')?.[0];
  if (raw === undefined || raw === '') return 'other';
  const semi = raw.indexOf(';');
  const base = (semi < 0 ? raw : raw.slice(0, semi)).replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase();
  // Only ASCII is followed: Go's TrimSpace also trims Unicode spaces (U+0085, U+00A0) in UTF-8.
  if (!/^[\x21-\x7e]*$/.test(base)) return 'ambiguous';
  if (base === FORM_TYPE || base === 'multipart/form-data') {
    // Parameters may make ParseMediaType fail and return no type at all (duplicate names): not followed.
    return semi < 0 ? (base === FORM_TYPE ? 'form' : 'multipart') : 'ambiguous';
  }
  return 'other';
}

/** Methods whose body ParseForm reads. */
export function readsFormBody(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

export interface Form {
  /** `Request.Form`: body values first, then the query's. */
  values: Values;
  /** Go's first error; dockerd answers it with 400. */
  error: string | undefined;
}

/** Request.ParseForm over the raw query and, when the body is a form, the body's text. */
export function parseForm(rawQuery: string, formBody: string | undefined): Form {
  const values: Values = new Map();
  let error: string | undefined;
  if (formBody !== undefined) error = parseQuery(formBody, values).error;
  const fromQuery = parseQuery(rawQuery, values).error;
  return { values, error: error ?? fromQuery };
}

/** Largest form body Go reads (`maxFormSize`, 10 MB); more is "http: POST too large". */
export const MAX_FORM_BODY = 10 << 20;
