// log/: concierge's one pino logger (level from CONCIERGE_LOG_LEVEL).
import pino from 'pino';

/** One process-wide logger; JSON lines on stderr so stdout stays free for workload output. */
export const log = pino(
  { level: process.env.CONCIERGE_LOG_LEVEL ?? 'info', base: { pid: process.pid } },
  pino.destination({ fd: 2, sync: false }),
);

export type Logger = typeof log;
