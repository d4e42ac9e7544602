import type { Message } from './message.js';

interface Entry {
  answer: Message;
  storedAtMs: number;
  ttlSeconds: number;
}

/**
 * Upstream answers by question, each kept for its TTL. Bounded: past `maxEntries` the oldest stored
 * entry goes (a Map iterates in insertion order, and a refreshed entry is re-inserted).
 */
export class AnswerCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries = 10_000, private readonly nowMs: () => number = () => performance.now()) {}

  /** The answer and its age in whole seconds, while its TTL lasts. */
  get(key: string): { answer: Message; elapsedSeconds: number } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const elapsedSeconds = Math.floor((this.nowMs() - entry.storedAtMs) / 1000);
    if (elapsedSeconds >= entry.ttlSeconds) {
      this.entries.delete(key);
      return undefined;
    }
    return { answer: entry.answer, elapsedSeconds };
  }

  set(key: string, answer: Message, ttlSeconds: number): void {
    if (ttlSeconds <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { answer, storedAtMs: this.nowMs(), ttlSeconds });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
