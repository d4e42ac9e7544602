// containerd's /tasks/exit events of one namespace, decoded, with resubscription when the stream breaks
// (containerd restarted): workloads and, later, sibling cleanup react to them.
import { fromBinary } from '@bufbuild/protobuf';
import { TaskExitSchema } from './api.js';
import type { ContainerdClient } from './client.js';

export interface TaskExitEvent {
  namespace: string;
  containerId: string;
  /** The exec id, or the container id for the task's init process. */
  processId: string;
  pid: number;
  exitStatus: number;
  exitedAt: Date | undefined;
}

export interface TaskExitSubscription {
  close(): void;
}

export function subscribeTaskExits(client: ContainerdClient, onExit: (e: TaskExitEvent) => void,
  onError: (err: Error) => void = () => undefined): TaskExitSubscription {
  let closed = false;
  let current: { cancel(): void } | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let ready: (() => void) | undefined;
  const loop = async () => {
    while (!closed) {
      const stream = client.events.subscribe({ filters: [`topic=="/tasks/exit",namespace=="${client.namespace}"`] });
      current = stream;
      try {
        for await (const envelope of stream) {
          const any = envelope.event;
          if (!any || !any.typeUrl.endsWith('containerd.events.TaskExit')) continue;
          const e = fromBinary(TaskExitSchema, any.value);
          const at = e.exitedAt;
          onExit({
            namespace: envelope.namespace, containerId: e.containerId, processId: e.id, pid: e.pid, exitStatus: e.exitStatus,
            exitedAt: at ? new Date(Number(at.seconds) * 1000 + Math.floor(at.nanos / 1e6)) : undefined,
          });
        }
      } catch (err) {
        if (!closed) onError(err as Error);
      }
      if (closed) break;
      await new Promise<void>((resolve) => { ready = resolve; retryTimer = setTimeout(resolve, 500); });
    }
  };
  void loop();
  return {
    close() {
      closed = true;
      current?.cancel();
      if (retryTimer) clearTimeout(retryTimer);
      ready?.();
    },
  };
}
