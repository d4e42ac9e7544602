// Task events to containerd as its shims send them: an Envelope (namespace, topic, the event as an Any
// whose type URL is the event's full protobuf name) forwarded over ttrpc to the address containerd gave
// in TTRPC_ADDRESS. A failed publish is logged, never fatal to the task.
import { anyPack, timestampNow } from '@bufbuild/protobuf/wkt';
import { create, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { log } from '../log/logger.js';
import { EnvelopeSchema, ForwardRequestSchema } from '../../proto/gen/github.com/containerd/containerd/api/services/ttrpc/events/v1/events_pb.js';
import { TtrpcClient } from './ttrpc-client.js';

const service = 'containerd.services.events.ttrpc.v1.Events';

export class EventPublisher {
  private client: Promise<TtrpcClient> | undefined;

  constructor(private readonly address: string | undefined, private readonly namespace: string) {}

  async publish<Desc extends DescMessage>(topic: string, schema: Desc, event: MessageShape<Desc>): Promise<void> {
    if (this.address === undefined || this.address === '') return;
    const any = anyPack(schema, event);
    // containerd's typeurl names a registered gogo message by its full name, with no type.googleapis.com/ prefix.
    any.typeUrl = schema.typeName;
    const envelope = create(EnvelopeSchema, { timestamp: timestampNow(), namespace: this.namespace, topic, event: any });
    try {
      this.client ??= TtrpcClient.connect(this.address.replace(/^unix:\/\//, ''));
      const client = await this.client;
      await client.call(service, 'Forward', toBinary(ForwardRequestSchema, create(ForwardRequestSchema, { envelope })));
    } catch (err) {
      this.client = undefined;
      log.warn({ topic, err: (err as Error).message }, 'publishing a task event failed');
    }
  }

  close(): void {
    void this.client?.then((c) => c.close(), () => undefined);
  }
}
