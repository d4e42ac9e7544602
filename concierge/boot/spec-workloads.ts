// The workloads of the spec belong to concierge/workloads, which validates them; its errors are
// reported like every other field's.
import { parseInstanceWorkloads, SpecError, type WorkloadSpec } from '../workloads/spec.js';
import { InstanceSpecError } from './spec-fields.js';

export type Workload = WorkloadSpec;

export function parseWorkloads(value: unknown, baseDir: string): Workload[] {
  try {
    return parseInstanceWorkloads({ workloads: value }, { baseDir });
  } catch (err) {
    if (err instanceof SpecError) throw new InstanceSpecError(err.message.replace(/^instance spec: /, 'spec.'));
    throw err;
  }
}
