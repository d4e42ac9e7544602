// A task's Stats answer as containerd reads it: io.containerd.cgroups.v2.Metrics (containerd's cgroups
// library's message, which `ctr task metrics` and the CRI's stats decode), made from the workload's
// cgroup v2 files that the guest reports (GET /workloads/{id}/stats). As that library reads them, a
// "max" limit is the largest uint64 and a file the guest left out is 0; memory.stat keys are the
// MemoryStat fields' own names.
import { create, type MessageShape } from '@bufbuild/protobuf';
import { reflect } from '@bufbuild/protobuf/reflect';
import { anyPack, type Any } from '@bufbuild/protobuf/wkt';
import {
  CPUStatSchema, MemoryEventsSchema, MemoryStatSchema, MetricsSchema, PidsStatSchema,
} from '../../proto/gen/github.com/containerd/cgroups/v2/stats/metrics_pb.js';

const maxUint64 = 2n ** 64n - 1n;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A figure of the guest's answer: a whole number, "max", or absent (0). */
function figure(v: unknown): bigint {
  if (v === 'max') return maxUint64;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : 0n;
}

/** A keyed file of the guest's answer (cpu.stat, memory.stat, memory.events). */
function keyed(v: unknown): Record<string, unknown> {
  return isRecord(v) ? v : {};
}

/** The message's fields set from the keyed file's entries of the same names (memory.stat's keys are MemoryStat's). */
function byFieldName<T extends typeof MemoryStatSchema | typeof CPUStatSchema | typeof MemoryEventsSchema>(schema: T, file: Record<string, unknown>): MessageShape<T> {
  const message = create(schema);
  const fields = reflect(schema, message);
  for (const field of fields.fields) {
    if (field.fieldKind === 'scalar' && field.name in file) fields.set(field, figure(file[field.name]));
  }
  return message;
}

export function cgroupMetrics(stats: unknown): MessageShape<typeof MetricsSchema> {
  if (!isRecord(stats)) throw new Error('the guest\'s stats: expected an object');
  const memory = byFieldName(MemoryStatSchema, keyed(stats['memory.stat']));
  memory.usage = figure(stats['memory.current']);
  memory.usageLimit = figure(stats['memory.max']);
  memory.swapUsage = figure(stats['memory.swap.current']);
  memory.swapLimit = figure(stats['memory.swap.max']);
  return create(MetricsSchema, {
    pids: create(PidsStatSchema, { current: figure(stats['pids.current']), limit: figure(stats['pids.max']) }),
    cpu: byFieldName(CPUStatSchema, keyed(stats['cpu.stat'])),
    memory,
    ...(stats['memory.events'] === undefined ? {} : { memoryEvents: byFieldName(MemoryEventsSchema, keyed(stats['memory.events'])) }),
  });
}

/** The Any a Stats answer carries: containerd's typeurl names a gogo message by its full name, with no prefix. */
export function metricsAny(stats: unknown): Any {
  const any = anyPack(MetricsSchema, cgroupMetrics(stats));
  any.typeUrl = MetricsSchema.typeName;
  return any;
}
