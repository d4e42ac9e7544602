// The generated containerd API (proto/gen, made by proto/generate.mjs at build time), re-exported under
// short names so the rest of concierge never spells the generated paths.
export { Version } from '../../proto/gen/github.com/containerd/containerd/api/services/version/v1/version_pb.js';
export { Namespaces } from '../../proto/gen/github.com/containerd/containerd/api/services/namespaces/v1/namespace_pb.js';
export { Containers } from '../../proto/gen/github.com/containerd/containerd/api/services/containers/v1/containers_pb.js';
export type { Container } from '../../proto/gen/github.com/containerd/containerd/api/services/containers/v1/containers_pb.js';
export { Tasks } from '../../proto/gen/github.com/containerd/containerd/api/services/tasks/v1/tasks_pb.js';
export { Content } from '../../proto/gen/github.com/containerd/containerd/api/services/content/v1/content_pb.js';
export { WriteAction } from '../../proto/gen/github.com/containerd/containerd/api/services/content/v1/content_pb.js';
export { Images } from '../../proto/gen/github.com/containerd/containerd/api/services/images/v1/images_pb.js';
export { Snapshots } from '../../proto/gen/github.com/containerd/containerd/api/services/snapshots/v1/snapshots_pb.js';
export { Diff } from '../../proto/gen/github.com/containerd/containerd/api/services/diff/v1/diff_pb.js';
export { Leases } from '../../proto/gen/github.com/containerd/containerd/api/services/leases/v1/leases_pb.js';
export { Events } from '../../proto/gen/github.com/containerd/containerd/api/services/events/v1/events_pb.js';
export type { Envelope } from '../../proto/gen/github.com/containerd/containerd/api/services/events/v1/events_pb.js';
export { TaskExitSchema } from '../../proto/gen/github.com/containerd/containerd/api/events/task_pb.js';
export type { TaskExit } from '../../proto/gen/github.com/containerd/containerd/api/events/task_pb.js';
export type { Mount } from '../../proto/gen/github.com/containerd/containerd/api/types/mount_pb.js';
export type { Descriptor } from '../../proto/gen/github.com/containerd/containerd/api/types/descriptor_pb.js';
export { OptionsSchema as RuncOptionsSchema } from '../../proto/gen/github.com/containerd/containerd/runtime/v2/runc/options/oci_pb.js';
export { Status as ProcessStatus } from '../../proto/gen/github.com/containerd/containerd/api/types/task/task_pb.js';
