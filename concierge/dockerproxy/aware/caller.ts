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

/** What a caller's siblings may ask for beyond an ordinary container. All off by default. */
export interface PrivilegePolicy {
  /** How the workload's spec named it ("isolated", "trusted" or "custom"): refusals say it. */
  name: string;
  privileged: boolean;
  /** Capabilities that may be added (upper case, without CAP_), or ['ALL']. */
  capAdd: readonly string[];
  devices: boolean;
  hostNamespaces: boolean;
  securityOpt: boolean;
  sysctls: boolean;
  cgroupParent: boolean;
  /** Runtimes besides runc, or ['ALL']. */
  runtimes: readonly string[];
  /** Network and log drivers allowed beyond the built-in ones (none by default), or ['ALL']. */
  drivers?: readonly string[];
}

export const DEFAULT_POLICY: PrivilegePolicy = {
  name: 'isolated',
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
/** A label older concierges set to list a sibling's staging binds; never read, always removed from answers. */
export const STAGING_LABEL = 'io.concierge.staging';
