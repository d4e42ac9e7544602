import { closeSync } from 'node:fs';
import { NETLINK_ROUTE, errnoName, sys, type SysError } from '../../sys/index.js';
import { NLMSG, NLM_F, decodeMessages, errorCode, type Message } from './messages.js';

/**
 * A NETLINK_ROUTE socket used synchronously: rtnetlink handles a request inside sendmsg, so its
 * answer is already queued when send returns. One request at a time, matched by sequence number.
 */
export class RouteSocket {
  private readonly fd = sys.netlinkOpen(NETLINK_ROUTE);
  private readonly buffer = Buffer.alloc(64 * 1024);
  private seq = 1;

  nextSeq(): number {
    return this.seq++;
  }

  /** Sends one request and returns its answers up to the ACK/DONE; an error answer throws. */
  request(message: Buffer, what: string): Message[] {
    const seq = message.readUInt32LE(8);
    sys.netlinkSend(this.fd, message);
    const answers: Message[] = [];
    for (;;) {
      const length = sys.netlinkRecv(this.fd, this.buffer);
      for (const m of decodeMessages(this.buffer.subarray(0, length))) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG.DONE) return answers;
        if (m.type === NLMSG.ERROR) {
          const errno = errorCode(m);
          if (errno === 0) return answers;
          throw netlinkError(errno, what);
        }
        answers.push(m);
        if ((m.flags & NLM_F.MULTI) === 0) return answers; // not part of a multipart dump: a single answer
      }
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

function netlinkError(errno: number, what: string): SysError {
  const code = errnoName(errno);
  return Object.assign(new Error(`${code}: ${what}`), { code, errno: -errno, syscall: 'netlink' });
}

