// The workloads of the spec belong to concierge/workloads, which validates them; until that module's
// validator is wired in, they pass through as an array of unknown values.
import { InstanceSpecError } from './spec-fields.js';

export type Workload = unknown;

export function parseWorkloads(value: unknown, _baseDir: string): Workload[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new InstanceSpecError('spec.workloads: expected an array');
  return value;
}
