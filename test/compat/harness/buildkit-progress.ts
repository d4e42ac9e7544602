/**
 * Reduces BuildKit's `--progress=plain` output to what a build did, independent of scheduling:
 * the vertex numbers, their order, interleaving, progress lines and whether a finished vertex shows
 * as DONE or CACHED all follow the clock. Kept: every vertex's name, how it ended (done or the
 * error), the lines its commands printed, and the image it wrote and named.
 */
export interface BuildkitVertex {
  name: string;
  status: string;
  output: string[];
  result: string[];
}

export function summarizeBuildkitProgress(text: string): { vertices: BuildkitVertex[]; other: string[] } {
  const byNumber = new Map<string, BuildkitVertex>();
  const other: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^#(\d+) (.*)$/.exec(line);
    if (!m) {
      other.push(line);
      continue;
    }
    const [, number, rest] = m as unknown as [string, string, string];
    const vertex = byNumber.get(number);
    if (vertex === undefined) {
      byNumber.set(number, { name: rest, status: 'pending', output: [], result: [] });
      continue;
    }
    if (rest === vertex.name || rest.startsWith('sha256:')) continue;
    if (/^(DONE|CACHED)\b/.test(rest)) vertex.status = 'done';
    else if (rest.startsWith('ERROR')) vertex.status = rest;
    else if (/^\d+\.\d+ /.test(rest)) vertex.output.push(rest.replace(/^\d+\.\d+ /, ''));
    else if (/^(writing image|naming to) /.test(rest)) {
      // A step is printed when it starts and again when it is done, or only once if both fall in one
      // display tick: what was written and named counts, not how often it was shown.
      const result = rest.replace(/( \d+(\.\d+)?s)? done$/, '');
      if (!vertex.result.includes(result)) vertex.result.push(result);
    }
    // Anything else is progress (transferring ..., exporting layers ...): how far, at which moment.
  }
  const vertices = [...byNumber.values()].sort((a, b) => a.name.localeCompare(b.name));
  return { vertices, other };
}
