/** A promise a test opens when it chooses: holds an answer or a decision until the test has seen what it wants. */
export interface Gate {
  readonly opened: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Resolves once `condition` holds, checked every `intervalMs`; fails after `timeoutMs`. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, { timeoutMs = 30_000, intervalMs = 5 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
