// What every compat test file starts and ends with: a run of the three targets, and a busybox image on
// dockerd named for the run.
import { importBusybox } from '../../lib/busybox.js';
import { removeEverythingNamed } from './images.js';
import { startCompatRun, type CompatRun } from './targets.js';

export async function startRunWithImage(): Promise<{ run: CompatRun; image: string }> {
  const run = await startCompatRun();
  const image = `compat-busybox-${run.runId}:latest`;
  await importBusybox(run.direct.socket, image);
  return { run, image };
}

/** Removes everything the run named on dockerd, then stops its targets. */
export async function stopRun(run: CompatRun | undefined): Promise<void> {
  if (!run) return;
  await removeEverythingNamed(run.direct.dockerHost, run.runId);
  await run.stop();
}
