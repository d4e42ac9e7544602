/**
 * Who is calling: known from the socket a request arrived on (one socket per workload), never from
 * anything in the request.
 */
export interface CallerMount {
  /** Where the caller sees it. */
  destination: string;
  /** Host path for bind mounts; for others the filesystem's name (proc, tmpfs, ...). */
  source: string;
  type: string;
  options: readonly string[];
}

export interface Caller {
  /** The workload id: the value of the owner label on everything it creates. */
  id: string;
  /** The caller's root as seen from the guest (the task's rootfs overlay). */
  rootfs: string;
  /** The caller's mount table (from its OCI spec). */
  mounts: readonly CallerMount[];
  policy: PrivilegePolicy;
}

/** What a caller's siblings may ask for beyond an ordinary container (brief 4.9). All off by default. */
export interface PrivilegePolicy {
  privileged: boolean;
  /** Capabilities that may be added (upper case, without CAP_), or ['ALL']. */
  capAdd: readonly string[];
  devices: boolean;
  hostNamespaces: boolean;
  securityOpt: boolean;
  sysctls: boolean;
  cgroupParent: boolean;
  runtimes: readonly string[];
  /** Network, log and volume drivers allowed beyond the built-in ones (none by default). */
  drivers?: readonly string[];
}

export const DEFAULT_POLICY: PrivilegePolicy = {
  privileged: false,
  capAdd: [],
  devices: false,
  hostNamespaces: false,
  securityOpt: false,
  sysctls: false,
  cgroupParent: false,
  runtimes: [],
};

/** The label that marks a sibling, volume or network as the caller's. */
export const OWNER_LABEL = 'io.concierge.owner';
/** The label listing a sibling's staging binds, so they are released with it. */
export const STAGING_LABEL = 'io.concierge.staging';

/** A refusal the client sees as a Docker-style error: the proxy's one error type. */
export { ProxyError as Refused } from '../errors.js';
