/**
 * The result of a set of workloads (`concierge serve --exit-with-workloads`): once
 * every one has ended, the exit code of the one that ended last. A workload that failed (did not
 * start, or could not be waited for) counts as exit code 1; no workload at all is 0.
 */
export async function lastExitCode(exits: readonly Promise<number>[]): Promise<number> {
  let last = 0;
  await Promise.all(exits.map(async (exit) => {
    const code = await exit.catch(() => 1);
    last = code;
  }));
  return last;
}
