import type { Reply } from '../../intercept.js';
import { parseJson, type JsonValue } from '../gojson.js';
import type { RawDockerdAnswer } from '../dockerd.js';
import { encodeGoJson } from './gojson-encode.js';

const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);

function withoutFraming(headers: ReadonlyArray<readonly [string, string]>): Array<[string, string]> {
  return headers.filter(([n]) => !FRAMING.has(n.toLowerCase())).map(([n, v]) => [n, v]);
}

/** dockerd's answer handed on; a JSON body of a success goes through `rewrite` first. */
export function replyFrom(answer: RawDockerdAnswer, rewrite?: (tree: JsonValue) => void): Reply {
  let body = answer.body;
  const json = answer.headers.some(([n, v]) => n.toLowerCase() === 'content-type' && v.startsWith('application/json'));
  if (rewrite !== undefined && json && answer.status >= 200 && answer.status < 300 && body.length > 0) {
    const tree = parseJson(body.toString('utf8'));
    rewrite(tree);
    body = Buffer.from(encodeGoJson(tree));
  }
  return { reply: { status: answer.status, headers: withoutFraming(answer.headers), body } };
}

/** An answer made here, with the headers dockerd puts on its own (`dockerdHeaders`: "Name: value\r\n" lines). */
export function jsonReply(status: number, json: JsonValue, dockerdHeaders: string): Reply {
  const headers: Array<[string, string]> = [];
  for (const line of dockerdHeaders.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  headers.push(['Content-Type', 'application/json'], ['Date', new Date().toUTCString()]);
  return { reply: { status, headers, body: Buffer.from(encodeGoJson(json)) } };
}

/** The JSON body of dockerd's answer, when it is one (for reading ids out of create and prune answers). */
export function jsonOf(answer: RawDockerdAnswer): unknown {
  try {
    return JSON.parse(answer.body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
