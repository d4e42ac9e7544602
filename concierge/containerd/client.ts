// containerd/: a client library of containerd's API; it knows nothing of workloads, the proxy or PID 1.
// A containerd client over its gRPC unix socket: one channel, typed service clients, and the namespace
// (and optionally lease) every call carries as containerd expects them, in headers.
import {
  Containers, Content, Diff, Events, Images, Leases, Namespaces, Snapshots, Tasks, Version,
} from './api.js';
import { GrpcChannel } from './grpc-channel.js';
import { createServiceClient, type Headers, type ServiceClient } from './grpc-service.js';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';

export const defaultContainerdSocket = '/run/containerd/containerd.sock';

type ClientOf<S> = S extends GenService<infer M extends GenServiceMethods> ? ServiceClient<M> : never;

/** The services of one namespace (and lease); cheap to make, sharing the parent's channel. */
export class ContainerdClient {
  readonly version: ClientOf<typeof Version>;
  readonly namespaces: ClientOf<typeof Namespaces>;
  readonly containers: ClientOf<typeof Containers>;
  readonly tasks: ClientOf<typeof Tasks>;
  readonly content: ClientOf<typeof Content>;
  readonly images: ClientOf<typeof Images>;
  readonly snapshots: ClientOf<typeof Snapshots>;
  readonly diff: ClientOf<typeof Diff>;
  readonly leases: ClientOf<typeof Leases>;
  readonly events: ClientOf<typeof Events>;

  private constructor(
    private readonly channel: GrpcChannel,
    readonly socketPath: string,
    readonly namespace: string,
    readonly lease: string | undefined,
  ) {
    const headers: Headers = lease === undefined
      ? { 'containerd-namespace': namespace }
      : { 'containerd-namespace': namespace, 'containerd-lease': lease };
    this.version = createServiceClient(channel, Version, headers);
    this.namespaces = createServiceClient(channel, Namespaces, headers);
    this.containers = createServiceClient(channel, Containers, headers);
    this.tasks = createServiceClient(channel, Tasks, headers);
    this.content = createServiceClient(channel, Content, headers);
    this.images = createServiceClient(channel, Images, headers);
    this.snapshots = createServiceClient(channel, Snapshots, headers);
    this.diff = createServiceClient(channel, Diff, headers);
    this.leases = createServiceClient(channel, Leases, headers);
    this.events = createServiceClient(channel, Events, headers);
  }

  static connect(socketPath: string = defaultContainerdSocket, namespace = 'default'): ContainerdClient {
    // Content reads move 1 MiB chunks; containerd's own limit on what it sends is 16 MiB.
    const channel = new GrpcChannel(socketPath, { maxReceiveBytes: 16 * 1024 * 1024 });
    return new ContainerdClient(channel, socketPath, namespace, undefined);
  }

  /** The same connection, another namespace. */
  withNamespace(namespace: string): ContainerdClient {
    return new ContainerdClient(this.channel, this.socketPath, namespace, this.lease);
  }

  /** The same connection, with every call made under a lease (containerd's GC keeps what it creates). */
  withLease(lease: string | undefined): ContainerdClient {
    return new ContainerdClient(this.channel, this.socketPath, this.namespace, lease);
  }

  /** Waits until the socket answers (containerd may still be starting). */
  async waitReady(timeoutMs = 10_000): Promise<void> {
    await this.channel.waitForReady(timeoutMs).catch((err: Error) => {
      throw new Error(`containerd at ${this.socketPath} did not answer within ${timeoutMs} ms: ${err.message}`);
    });
  }

  /** Closes the shared channel: every client made from this one stops working. */
  close(): void {
    this.channel.close();
  }
}
