/** What a boot step did: its work, or nothing because the system was already so. */
export type StepResult = { done: string } | { skipped: string };

export const done = (what: string): StepResult => ({ done: what });
export const skipped = (why: string): StepResult => ({ skipped: why });
