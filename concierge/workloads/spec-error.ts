/** A workload spec that is not valid; the message names the field. */
export class SpecError extends Error {
  override name = 'SpecError';
}
