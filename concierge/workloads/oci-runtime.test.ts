import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { RuncOptionsSchema } from '../containerd/api.js';
import { ociRuntimeName, preferredOciRuntime, runcShimOptions } from './oci-runtime.js';

describe('the OCI runtime of the workloads', () => {
  it('is crun only where it is executable and the cgroup v2 root holds the memory controller', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oci-runtime-'));
    try {
      const crun = join(dir, 'crun');
      const cgroups = join(dir, 'cgroup');
      const controllers = join(dir, 'cgroup', 'cgroup.controllers');
      writeFileSync(crun, '#!/bin/sh\n');
      expect(preferredOciRuntime(crun, cgroups)).toBeUndefined(); // no cgroup v2 root: runc
      chmodSync(crun, 0o755);
      mkdirSync(cgroups);
      writeFileSync(controllers, '\n'); // a hybrid host: controllers on v1, none on the v2 root
      expect(preferredOciRuntime(crun, cgroups)).toBeUndefined();
      writeFileSync(controllers, 'cpuset cpu io memory hugetlb pids rdma misc\n');
      expect(preferredOciRuntime(crun, cgroups)).toBe(crun);
      chmodSync(crun, 0o644);
      expect(preferredOciRuntime(crun, cgroups)).toBeUndefined(); // not executable
      expect(preferredOciRuntime(join(dir, 'absent'), cgroups)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the binary in the runc shim's options, as containerd's typeurl names them", () => {
    const options = runcShimOptions('/usr/bin/crun');
    expect(options.typeUrl).toBe('containerd.runc.v1.Options');
    expect(fromBinary(RuncOptionsSchema, options.value).binaryName).toBe('/usr/bin/crun');
    // binary_name is field 6, a string: tag 0x32, length, bytes.
    expect(Buffer.from(options.value).subarray(0, 2)).toEqual(Buffer.from([0x32, '/usr/bin/crun'.length]));
    expect(ociRuntimeName('/usr/bin/crun')).toBe('crun');
    expect(ociRuntimeName(undefined)).toBe('runc');
  });
});

