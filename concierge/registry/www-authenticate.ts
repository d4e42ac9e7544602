// RFC 7235 challenges as registries send them: `Bearer realm="...",service="...",scope="..."` or
// `Basic realm="..."`. Parameter names are case-insensitive; values may be tokens or quoted strings.

export interface Challenge {
  scheme: string; // lower case
  params: Map<string, string>;
}

export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let at = 0;
  const skip = (pattern: RegExp) => { while (at < header.length && pattern.test(header[at]!)) at++; };
  while (at < header.length) {
    skip(/[\s,]/);
    const scheme = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(header.slice(at))?.[0];
    if (scheme === undefined) break;
    at += scheme.length;
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: new Map() };
    challenges.push(challenge);
    for (;;) {
      skip(/[\s,]/);
      const param = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*/.exec(header.slice(at));
      if (param === null) break;
      at += param[0].length;
      let value = '';
      if (header[at] === '"') {
        at++;
        while (at < header.length && header[at] !== '"') {
          if (header[at] === '\\' && at + 1 < header.length) at++;
          value += header[at];
          at++;
        }
        at++;
      } else {
        const token = /^[^\s,]*/.exec(header.slice(at))![0];
        value = token;
        at += token.length;
      }
      challenge.params.set(param[1]!.toLowerCase(), value);
    }
  }
  return challenges;
}
