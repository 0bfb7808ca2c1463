/**
 * The kubelet's side of the plugin protocol, for the demo, benchmarks and operators' checks: dial
 * the registration socket, read GetInfo, confirm registration, then call the DRA service at the
 * advertised endpoint exactly as the kubelet does.
 */
import {
  type Client,
  credentials,
  makeGenericClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  type ClaimMessage,
  type DeviceV1Message,
  kubeletServices,
  type NodePrepareResourcesResponseMessage,
  type NodeUnprepareResourcesResponseMessage,
  type NodeWatchResourcesResponseMessage,
  type PluginInfoMessage,
} from './protos.ts';

type Unary<Req, Res> = (
  request: Req,
  callback: (error: ServiceError | null, response?: Res) => void,
) => void;

function call<Req, Res>(client: Client, method: string, request: Req): Promise<Res> {
  const fn = (client as unknown as Record<string, Unary<Req, Res>>)[method];
  if (fn === undefined) return Promise.reject(new Error(`client has no method ${method}`));
  return new Promise((resolve, reject) => {
    fn.call(client, request, (error, response) => {
      if (error !== null) reject(error);
      else if (response === undefined) reject(new Error(`${method} returned no response`));
      else resolve(response);
    });
  });
}

export class KubeletClient {
  readonly #registration: Client;
  #dra: Client | undefined;
  #health: Client | undefined;

  constructor(registrationSocket: string) {
    const Registration = makeGenericClientConstructor(
      kubeletServices().registration,
      'Registration',
    );
    this.#registration = new Registration(
      `unix://${registrationSocket}`,
      credentials.createInsecure(),
    );
  }

  getInfo(): Promise<PluginInfoMessage> {
    return call(this.#registration, 'GetInfo', {});
  }

  notifyRegistrationStatus(registered: boolean, error = ''): Promise<unknown> {
    return call(this.#registration, 'NotifyRegistrationStatus', {
      plugin_registered: registered,
      error,
    });
  }

  /** Registers the way the kubelet does: GetInfo, then connect to the endpoint, then confirm. */
  async register(): Promise<PluginInfoMessage> {
    const info = await this.getInfo();
    const Dra = makeGenericClientConstructor(kubeletServices().draV1, 'DRAPlugin');
    const Health = makeGenericClientConstructor(kubeletServices().healthV1, 'DRAResourceHealth');
    this.#dra = new Dra(`unix://${info.endpoint}`, credentials.createInsecure());
    this.#health = new Health(`unix://${info.endpoint}`, credentials.createInsecure());
    await this.notifyRegistrationStatus(true);
    return info;
  }

  #draClient(): Client {
    if (this.#dra === undefined) throw new Error('call register() first');
    return this.#dra;
  }

  prepare(
    claims: readonly ClaimMessage[],
  ): Promise<NodePrepareResourcesResponseMessage<DeviceV1Message>> {
    return call(this.#draClient(), 'NodePrepareResources', { claims });
  }

  unprepare(claims: readonly ClaimMessage[]): Promise<NodeUnprepareResourcesResponseMessage> {
    return call(this.#draClient(), 'NodeUnprepareResources', { claims });
  }

  /** Opens the v1 health stream; returns a function that cancels it. */
  watchHealth(onMessage: (message: NodeWatchResourcesResponseMessage) => void): () => void {
    if (this.#health === undefined) throw new Error('call register() first');
    const stream = this.#health.makeServerStreamRequest(
      '/v1.DRAResourceHealth/NodeWatchResources',
      (value: unknown) =>
        kubeletServices().healthV1.NodeWatchResources.requestSerialize(value as never),
      (bytes: Buffer) => kubeletServices().healthV1.NodeWatchResources.responseDeserialize(bytes),
      {},
    );
    stream.on('data', (message: NodeWatchResourcesResponseMessage) => onMessage(message));
    stream.on('error', () => undefined);
    return () => stream.cancel();
  }

  close(): void {
    this.#registration.close();
    this.#dra?.close();
    this.#health?.close();
  }
}
