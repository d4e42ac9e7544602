// The marks of a guest boot as the host sees its console and `concierge vm`'s lines: concierge's lines
// and the busybox stand-in's are both recognised, so the two inits are timed by the same rules.
import type { Boot } from '../../test/guest/vm.js';

export interface Mark {
  name: string;
  pattern: RegExp;
}

/** In boot order. */
export const guestMarks: Mark[] = [
  { name: 'VMM start', pattern: /^concierge vm: qemu / },
  { name: 'first stage done', pattern: /^first stage: root / },
  { name: 'first init line', pattern: /concierge init starting|stand-in init started/ },
  { name: 'containerd ready', pattern: /containerd ready at \+|^init: .*containerd ready/ },
  { name: 'dockerd ready', pattern: /dockerd ready at \+|^init: .*dockerd ready/ },
  { name: 'job first output', pattern: /^job: / },
  { name: 'job done', pattern: /^job: done/ },
  { name: 'result line', pattern: /^concierge: result |power-off, exit code|^init: .*power off/ },
  { name: 'power-off (qemu exited)', pattern: /^concierge vm: guest exit code|^concierge vm: the guest stopped/ },
];

/** ms from the VMM's start line to the first line matching each mark (undefined: never printed). */
export function timeline(boot: Pick<Boot, 'lines'>, marks: Mark[] = guestMarks): { name: string; ms: number | undefined }[] {
  const start = boot.lines.find((l) => guestMarks[0]!.pattern.test(l.text))?.ms ?? 0;
  return marks.map(({ name, pattern }) => {
    const line = boot.lines.find((l) => pattern.test(l.text));
    return { name, ms: line === undefined ? undefined : line.ms - start };
  });
}

/** concierge's own view: ms from its process start to its first line, and its timeline marks. */
export function guestView(boot: Boot): string[] {
  const out: string[] = [];
  for (const { text } of boot.lines) {
    if (!text.startsWith('{')) continue;
    try {
      const j = JSON.parse(text) as { sinceProcessStartMs?: number; timeline?: string; atMs?: number; stepsMs?: number; rssBytes?: number; steps?: { step: string; tookMs: number }[] };
      if (j.sinceProcessStartMs !== undefined) out.push(`  node start to first line: ${j.sinceProcessStartMs} ms`);
      if (j.timeline !== undefined && j.atMs !== undefined) {
        for (const s of j.steps ?? []) out.push(`           step ${s.step} took ${s.tookMs.toFixed(1)} ms`);
        const figures = [j.stepsMs === undefined ? '' : `steps ${j.stepsMs.toFixed(0)} ms`, j.rssBytes === undefined ? '' : `RSS ${(j.rssBytes / 1e6).toFixed(1)} MB`].filter((f) => f !== '');
        out.push(`  +${j.atMs.toFixed(0).padStart(7)} ms  ${j.timeline}${figures.length > 0 ? ` (${figures.join(', ')})` : ''}`);
      }
    } catch {
      // Not a log line.
    }
  }
  return out;
}
