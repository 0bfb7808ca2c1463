/**
 * Wire-level tests of the kubelet-facing servers: real unix sockets, grpc-js clients with
 * pass-through (Buffer) serializers, requests built and responses decoded with the independent
 * protowire helper, so nothing here depends on the .proto files or protobufjs.
 */
import {
  existsSync,
  type FSWatcher,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  type CallOptions,
  type Client,
  type ClientReadableStream,
  type ClientUnaryCall,
  credentials,
  Metadata,
  makeGenericClientConstructor,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type PluginServers, startPluginServers } from '../../../src/driver/grpc-server.ts';
import {
  type LivenessCheck,
  pluginLivenessChecks,
  startLivenessServer,
} from '../../../src/driver/liveness.ts';
import { type PluginSocketPaths, pluginSocketPaths } from '../../../src/driver/sockets.ts';
import type {
  ClaimRef,
  DeviceHealthEntry,
  DraHandler,
  HealthSource,
  PrepareOutcome,
  UnprepareOutcome,
} from '../../../src/driver/types.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { DriverMetrics } from '../../../src/observability/metrics.ts';
import {
  decode,
  encodeVarint,
  message,
  messageField,
  stringField,
  stringMessageMapEntry,
  varintField,
} from '../../helpers/protowire.ts';

const DRIVER = 'gpu.phalanx.dev';

// ---------------------------------------------------------------------------------------------
// Pass-through clients

const identity = (b: Buffer): Buffer => b;

function method(path: string, responseStream = false) {
  return {
    path,
    requestStream: false,
    responseStream,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

const REG = '/pluginregistration.Registration';
const V1 = '/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin';
const V1BETA1 = '/k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin';

const RegistrationClient = makeGenericClientConstructor(
  {
    GetInfo: method(`${REG}/GetInfo`),
    NotifyRegistrationStatus: method(`${REG}/NotifyRegistrationStatus`),
  },
  'Registration',
);
const DraV1Client = makeGenericClientConstructor(
  {
    NodePrepareResources: method(`${V1}/NodePrepareResources`),
    NodeUnprepareResources: method(`${V1}/NodeUnprepareResources`),
  },
  'DRAPluginV1',
);
const DraV1beta1Client = makeGenericClientConstructor(
  {
    NodePrepareResources: method(`${V1BETA1}/NodePrepareResources`),
    NodeUnprepareResources: method(`${V1BETA1}/NodeUnprepareResources`),
  },
  'DRAPluginV1beta1',
);
const HealthV1Client = makeGenericClientConstructor(
  { NodeWatchResources: method('/v1.DRAResourceHealth/NodeWatchResources', true) },
  'HealthV1',
);
const HealthV1alpha1Client = makeGenericClientConstructor(
  { NodeWatchResources: method('/v1alpha1.DRAResourceHealth/NodeWatchResources', true) },
  'HealthV1alpha1',
);
const GrpcHealthClient = makeGenericClientConstructor(
  {
    Check: method('/grpc.health.v1.Health/Check'),
    Watch: method('/grpc.health.v1.Health/Watch', true),
  },
  'GrpcHealth',
);

type UnaryFn = (
  this: Client,
  request: Buffer,
  metadata: Metadata,
  options: CallOptions,
  callback: (err: ServiceError | null, response?: Buffer) => void,
) => ClientUnaryCall;
type StreamFn = (
  this: Client,
  request: Buffer,
  metadata: Metadata,
  options: CallOptions,
) => ClientReadableStream<Buffer>;

const clients: Client[] = [];

function open<C extends Client>(
  Ctor: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => C,
  address: string,
): C {
  const client = new Ctor(address, credentials.createInsecure());
  clients.push(client);
  return client;
}

function unix(path: string): string {
  return `unix:${path}`;
}

function unary(
  client: Client,
  name: string,
  request: Buffer,
  options: CallOptions = {},
): Promise<Buffer> {
  const fn = (client as unknown as Record<string, UnaryFn>)[name];
  if (fn === undefined) throw new Error(`no method ${name}`);
  return new Promise((resolve, reject) => {
    fn.call(client, request, new Metadata(), options, (err, response) => {
      if (err !== null) reject(err);
      else resolve(response ?? Buffer.alloc(0));
    });
  });
}

function serverStream(client: Client, name: string, request: Buffer): ClientReadableStream<Buffer> {
  const fn = (client as unknown as Record<string, StreamFn>)[name];
  if (fn === undefined) throw new Error(`no method ${name}`);
  return fn.call(client, request, new Metadata(), {});
}

/** Collects stream messages; `next(n)` resolves once n messages in total have arrived. */
function collect(stream: ClientReadableStream<Buffer>) {
  const received: Buffer[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  stream.on('data', (chunk: Buffer) => {
    received.push(chunk);
    for (const w of waiters.filter((x) => received.length >= x.n)) w.resolve();
  });
  stream.on('error', () => undefined); // cancellation surfaces as an error; tests assert explicitly
  return {
    received,
    next: (n: number): Promise<Buffer> =>
      new Promise<void>((resolve) => {
        if (received.length >= n) resolve();
        else waiters.push({ n, resolve });
      }).then(() => received[n - 1] ?? Buffer.alloc(0)),
  };
}

async function eventually(check: () => boolean | Promise<boolean>, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function gaugeValue(gauge: DriverMetrics['healthStreams']): Promise<number> {
  return (await gauge.get()).values[0]?.value ?? 0;
}

async function counterValue(
  counter: DriverMetrics['registrations'],
  result: string,
): Promise<number> {
  return (await counter.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
}

async function rejection(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail');
}

// ---------------------------------------------------------------------------------------------
// The seam under test: a scripted handler and health source

type PrepareFn = (
  claims: readonly ClaimRef[],
  signal?: AbortSignal,
) => Promise<Map<string, PrepareOutcome>>;
type UnprepareFn = (
  claims: readonly ClaimRef[],
  signal?: AbortSignal,
) => Promise<Map<string, UnprepareOutcome>>;

class ScriptedHandler implements DraHandler {
  readonly prepareCalls: { claims: readonly ClaimRef[]; signal: AbortSignal | undefined }[] = [];
  readonly unprepareCalls: { claims: readonly ClaimRef[]; signal: AbortSignal | undefined }[] = [];
  prepare: PrepareFn = async () => new Map();
  unprepare: UnprepareFn = async () => new Map();

  prepareResources(claims: readonly ClaimRef[], signal?: AbortSignal) {
    this.prepareCalls.push({ claims, signal });
    return this.prepare(claims, signal);
  }

  unprepareResources(claims: readonly ClaimRef[], signal?: AbortSignal) {
    this.unprepareCalls.push({ claims, signal });
    return this.unprepare(claims, signal);
  }
}

class ScriptedHealth implements HealthSource {
  entries: readonly DeviceHealthEntry[] = [];
  readonly listeners = new Set<(entries: readonly DeviceHealthEntry[]) => void>();

  snapshot(): readonly DeviceHealthEntry[] {
    return this.entries;
  }

  subscribe(listener: (entries: readonly DeviceHealthEntry[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  set(entries: readonly DeviceHealthEntry[]): void {
    this.entries = entries;
    for (const l of this.listeners) l(entries);
  }
}

// ---------------------------------------------------------------------------------------------
// Fixture

interface Fixture {
  readonly root: string;
  readonly paths: PluginSocketPaths;
  readonly handler: ScriptedHandler;
  readonly health: ScriptedHealth;
  readonly metrics: DriverMetrics;
  readonly statuses: { registered: boolean; error: string }[];
  servers: PluginServers | undefined;
}

let fx: Fixture;

function newFixture(): Fixture {
  const root = mkdtempSync(join(tmpdir(), 'phx-'));
  return {
    root,
    paths: pluginSocketPaths({ kubeletRoot: root, driverName: DRIVER }),
    handler: new ScriptedHandler(),
    health: new ScriptedHealth(),
    metrics: new DriverMetrics(),
    statuses: [],
    servers: undefined,
  };
}

async function start(
  extra: { healthResendIntervalMs?: number; healthCheckTimeoutSeconds?: number } = {},
): Promise<PluginServers> {
  fx.servers = await startPluginServers({
    driverName: DRIVER,
    paths: fx.paths,
    handler: fx.handler,
    health: fx.health,
    metrics: fx.metrics,
    logger: silentLogger(),
    onRegistrationStatus: (s) => fx.statuses.push(s),
    healthResendIntervalMs: extra.healthResendIntervalMs ?? 0,
    shutdownTimeoutMs: 500,
    ...(extra.healthCheckTimeoutSeconds === undefined
      ? {}
      : { healthCheckTimeoutSeconds: extra.healthCheckTimeoutSeconds }),
  });
  return fx.servers;
}

beforeEach(() => {
  fx = newFixture();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await fx.servers?.close();
  rmSync(fx.root, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Request builders (field numbers from the kubelet API)

function claimField(namespace: string, uid: string, name: string): Buffer {
  const parts: Buffer[] = [];
  if (namespace !== '') parts.push(stringField(1, namespace));
  if (uid !== '') parts.push(stringField(2, uid));
  if (name !== '') parts.push(stringField(3, name));
  return messageField(1, ...parts);
}

const CLAIM_A = { namespace: 'team-a', uid: 'uid-a', name: 'train-0-gpu' };
const CLAIM_B = { namespace: 'team-a', uid: 'uid-b', name: 'train-1-gpu' };
const CLAIM_C = { namespace: 'team-a', uid: 'uid-c', name: 'train-2-gpu' };
const claimsRequest = (...claims: (typeof CLAIM_A)[]) =>
  message(...claims.map((c) => claimField(c.namespace, c.uid, c.name)));

const CDI_0 = 'k8s.gpu.phalanx.dev/claim=uid-a-gpu-0';
const CDI_COMMON = 'k8s.gpu.phalanx.dev/claim=uid-a-common';
const CDI_1 = 'k8s.gpu.phalanx.dev/claim=uid-a-gpu-1';
const SHARE = '6d1f3e0a-5b7c-4f2e-8a9d-0c1b2a3f4e5d';
const ERROR_B = 'claim team-a/train-1-gpu: device "gpu-9" is not published by node node-a';

/** uid-b first on purpose: the response must follow the request order, not the handler's. */
function twoClaimOutcome(): Map<string, PrepareOutcome> {
  return new Map<string, PrepareOutcome>([
    ['uid-b', { error: ERROR_B }],
    [
      'uid-a',
      {
        devices: [
          {
            requestNames: ['gpus/h100', 'gpus'],
            poolName: 'node-a',
            deviceName: 'gpu-0',
            cdiDeviceIds: [CDI_0, CDI_COMMON],
            shareId: SHARE,
          },
          {
            requestNames: ['gpus'],
            poolName: 'node-a',
            deviceName: 'gpu-1',
            cdiDeviceIds: [CDI_1],
          },
        ],
      },
    ],
  ]);
}

/** Hand-computed response bytes for {@link twoClaimOutcome}; v1 carries share_id (field 5). */
function expectedTwoClaimResponse(withShareId: boolean): Buffer {
  const device0 = messageField(
    1,
    stringField(1, 'gpus'),
    stringField(1, 'gpus'),
    stringField(2, 'node-a'),
    stringField(3, 'gpu-0'),
    stringField(4, CDI_0),
    stringField(4, CDI_COMMON),
    ...(withShareId ? [stringField(5, SHARE)] : []),
  );
  const device1 = messageField(
    1,
    stringField(1, 'gpus'),
    stringField(2, 'node-a'),
    stringField(3, 'gpu-1'),
    stringField(4, CDI_1),
  );
  return message(
    stringMessageMapEntry(1, 'uid-a', device0, device1),
    stringMessageMapEntry(1, 'uid-b', stringField(2, ERROR_B)),
  );
}

// ---------------------------------------------------------------------------------------------

describe('protowire helper (spec examples)', () => {
  it('encodes the examples of the protobuf encoding guide', () => {
    expect(varintField(1, 150).toString('hex')).toBe('089601');
    expect(stringField(2, 'testing').toString('hex')).toBe('120774657374696e67');
    expect(encodeVarint(300).toString('hex')).toBe('ac02');
    expect(encodeVarint(-1).toString('hex')).toBe('ffffffffffffffffff01');
  });

  it('decodes what it encodes', () => {
    const d = decode(
      message(varintField(1, 150), stringField(2, 'x'), messageField(3, varintField(1, 2))),
    );
    expect(d.numbers()).toEqual([1, 2, 3]);
    expect(d.varint(1)).toBe(150n);
    expect(d.string(2)).toBe('x');
    expect(d.message(3)?.varint(1)).toBe(2n);
    expect(() => decode(Buffer.from([0x0a, 0x05, 0x01]))).toThrow(/runs past the end/);
  });
});

describe('registration socket', () => {
  it('answers GetInfo with the exact bytes of the four fields', async () => {
    await start();
    const client = open(RegistrationClient, unix(fx.paths.registrationSocket));
    const response = await unary(client, 'GetInfo', Buffer.alloc(0));
    const expected = message(
      stringField(1, 'DRAPlugin'),
      stringField(2, DRIVER),
      stringField(3, fx.paths.draSocket),
      stringField(4, 'v1.DRAPlugin'),
      stringField(4, 'v1beta1.DRAPlugin'),
      stringField(4, 'v1.DRAResourceHealth'),
      stringField(4, 'v1alpha1.DRAResourceHealth'),
    );
    expect(response.equals(expected)).toBe(true);

    const info = decode(response);
    expect(info.string(1)).toBe('DRAPlugin');
    expect(info.string(2)).toBe(DRIVER);
    expect(info.string(3)).toBe(fx.paths.draSocket);
    expect(info.string(3)?.startsWith('/')).toBe(true);
    expect(info.strings(4)).toEqual([
      'v1.DRAPlugin',
      'v1beta1.DRAPlugin',
      'v1.DRAResourceHealth',
      'v1alpha1.DRAResourceHealth',
    ]);
  });

  it('accepts a successful registration and records it', async () => {
    await start();
    const client = open(RegistrationClient, unix(fx.paths.registrationSocket));
    const response = await unary(client, 'NotifyRegistrationStatus', message(varintField(1, true)));
    expect(response.length).toBe(0);
    expect(fx.statuses).toEqual([{ registered: true, error: '' }]);
    expect(await counterValue(fx.metrics.registrations, 'success')).toBe(1);
    expect(await gaugeValue(fx.metrics.registered)).toBe(1);
  });

  it('returns a gRPC error for a failed registration, as the Go helper does', async () => {
    await start();
    const client = open(RegistrationClient, unix(fx.paths.registrationSocket));
    // plugin_registered=false is the proto3 default, so the kubelet sends only the error.
    const err = await rejection(
      unary(client, 'NotifyRegistrationStatus', message(stringField(2, 'plugin name taken'))),
    );
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toContain('plugin name taken');
    expect(fx.statuses).toEqual([{ registered: false, error: 'plugin name taken' }]);
    expect(await counterValue(fx.metrics.registrations, 'error')).toBe(1);
    expect(await gaugeValue(fx.metrics.registered)).toBe(0);
  });
});

describe('DRAPlugin v1', () => {
  it('answers every claim, keyed by UID, with golden bytes', async () => {
    fx.handler.prepare = async () => twoClaimOutcome();
    await start();
    const client = open(DraV1Client, unix(fx.paths.draSocket));
    const response = await unary(client, 'NodePrepareResources', claimsRequest(CLAIM_A, CLAIM_B));

    expect(response.equals(expectedTwoClaimResponse(true))).toBe(true);
    expect(fx.handler.prepareCalls).toHaveLength(1);
    expect(fx.handler.prepareCalls[0]?.claims).toEqual([CLAIM_A, CLAIM_B]);
    expect(fx.handler.prepareCalls[0]?.signal).toBeInstanceOf(AbortSignal);

    const claims = decode(response).stringMessageMap(1);
    expect([...claims.keys()].sort()).toEqual(['uid-a', 'uid-b']);
    const [gpu0, gpu1] = claims.get('uid-a')?.messages(1) ?? [];
    expect(gpu0?.strings(1)).toEqual(['gpus', 'gpus']); // subrequest suffix stripped
    expect(gpu0?.strings(4)).toEqual([CDI_0, CDI_COMMON]);
    expect(gpu0?.string(5)).toBe(SHARE);
    expect(gpu1?.has(5)).toBe(false); // share_id absent when unset
    expect(claims.get('uid-a')?.has(2)).toBe(false);
    expect(claims.get('uid-b')?.string(2)).toBe(ERROR_B);
    expect(claims.get('uid-b')?.has(1)).toBe(false);
  });

  it('sends a share_id that is set to the empty string (proto3 optional presence)', async () => {
    fx.handler.prepare = async () =>
      new Map([
        [
          'uid-a',
          {
            devices: [
              { requestNames: [], poolName: 'p', deviceName: 'd', cdiDeviceIds: [], shareId: '' },
            ],
          },
        ],
      ]);
    await start();
    const client = open(DraV1Client, unix(fx.paths.draSocket));
    const response = await unary(client, 'NodePrepareResources', claimsRequest(CLAIM_A));
    const device = messageField(
      1,
      stringField(2, 'p'),
      stringField(3, 'd'),
      Buffer.from([0x2a, 0x00]),
    );
    expect(response.equals(message(stringMessageMapEntry(1, 'uid-a', device)))).toBe(true);
  });

  it('fills an error for a claim the handler left out', async () => {
    fx.handler.prepare = async () => new Map([['uid-a', { devices: [] }]]);
    await start();
    const client = open(DraV1Client, unix(fx.paths.draSocket));
    const response = decode(
      await unary(client, 'NodePrepareResources', claimsRequest(CLAIM_A, CLAIM_B)),
    );
    expect(response.mapKeys(1)).toEqual(['uid-a', 'uid-b']);
    const claims = response.stringMessageMap(1);
    expect(claims.get('uid-a')?.fields).toEqual([]); // success with no devices: empty message
    expect(claims.get('uid-b')?.string(2)).toBe(
      'claim team-a/train-1-gpu: the driver returned no result for it; the kubelet will retry',
    );
  });

  it('turns a rejected handler into a per-claim error for every claim', async () => {
    fx.handler.prepare = async () => {
      throw new Error('checkpoint is unreadable');
    };
    await start();
    const client = open(DraV1Client, unix(fx.paths.draSocket));
    const claims = decode(
      await unary(client, 'NodePrepareResources', claimsRequest(CLAIM_A, CLAIM_B)),
    ).stringMessageMap(1);
    expect([...claims.keys()]).toEqual(['uid-a', 'uid-b']);
    for (const entry of claims.values())
      expect(entry.string(2)).toBe('v1.NodePrepareResources failed: checkpoint is unreadable');
  });

  it('rejects a claim without a UID as INVALID_ARGUMENT', async () => {
    await start();
    const client = open(DraV1Client, unix(fx.paths.draSocket));
    const request = message(claimField('team-a', 'uid-a', 'a'), claimField('team-a', '', 'b'));
    const err = await rejection(unary(client, 'NodePrepareResources', request));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe(
      'v1.NodePrepareResources: claim 1 (team-a/b) has no uid; every claim needs its ResourceClaim UID',
    );
    const noName = await rejection(
      unary(client, 'NodePrepareResources', message(claimField('team-a', 'uid-a', ''))),
    );
    expect(noName.code).toBe(status.INVALID_ARGUMENT);
    expect(fx.handler.prepareCalls).toHaveLength(0);
  });

  it('answers an empty request with an empty map without calling the handler', async () => {
    await start();
    const client = open(DraV1Client, unix(fx.paths.draSocket));
    expect((await unary(client, 'NodePrepareResources', Buffer.alloc(0))).length).toBe(0);
    expect(fx.handler.prepareCalls).toHaveLength(0);
  });

  it('aborts the handler signal when the call deadline passes', async () => {
    let aborted: (reason: unknown) => void = () => undefined;
    const abortedReason = new Promise<unknown>((resolve) => {
      aborted = resolve;
    });
    fx.handler.prepare = (claims, signal) =>
      new Promise((resolve) => {
        signal?.addEventListener('abort', () => {
          aborted(signal.reason);
          resolve(new Map(claims.map((c) => [c.uid, { error: 'stopped' }])));
        });
      });
    await start();
    const client = open(DraV1Client, unix(fx.paths.draSocket));
    const err = await rejection(
      unary(client, 'NodePrepareResources', claimsRequest(CLAIM_A), { deadline: Date.now() + 150 }),
    );
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    expect(String(await abortedReason)).toMatch(/deadline|cancelled/);
  });

  it('unprepares with an entry for every claim', async () => {
    fx.handler.unprepare = async () =>
      new Map<string, UnprepareOutcome>([
        ['uid-b', { error: 'cannot release gpu-3: still in use by uid-x' }],
        ['uid-a', {}],
      ]);
    await start();
    const client = open(DraV1Client, unix(fx.paths.draSocket));
    // Unprepare needs only the UID; namespace and name are informational.
    const request = message(
      claimField('team-a', 'uid-a', 'train-0-gpu'),
      claimField('team-a', 'uid-b', 'train-1-gpu'),
      claimField('', 'uid-c', ''),
    );
    const response = await unary(client, 'NodeUnprepareResources', request);
    const missing = 'claim /: the driver returned no result for it; the kubelet will retry';
    const expected = message(
      stringMessageMapEntry(1, 'uid-a'),
      stringMessageMapEntry(
        1,
        'uid-b',
        stringField(1, 'cannot release gpu-3: still in use by uid-x'),
      ),
      stringMessageMapEntry(1, 'uid-c', stringField(1, missing)),
    );
    expect(response.equals(expected)).toBe(true);
    expect(fx.handler.unprepareCalls[0]?.claims.map((c) => c.uid)).toEqual([
      'uid-a',
      'uid-b',
      'uid-c',
    ]);
  });
});

describe('DRAPlugin v1beta1', () => {
  it('serves the same handler and drops share_id (field 5)', async () => {
    fx.handler.prepare = async () => twoClaimOutcome();
    await start();
    const client = open(DraV1beta1Client, unix(fx.paths.draSocket));
    const response = await unary(client, 'NodePrepareResources', claimsRequest(CLAIM_A, CLAIM_B));
    expect(response.equals(expectedTwoClaimResponse(false))).toBe(true);
    for (const device of decode(response).stringMessageMap(1).get('uid-a')?.messages(1) ?? [])
      expect(device.numbers()).not.toContain(5);
  });

  it('unprepares through the same handler', async () => {
    fx.handler.unprepare = async (claims) => new Map(claims.map((c) => [c.uid, {}]));
    await start();
    const client = open(DraV1beta1Client, unix(fx.paths.draSocket));
    const response = await unary(client, 'NodeUnprepareResources', claimsRequest(CLAIM_A, CLAIM_C));
    expect(
      response.equals(
        message(stringMessageMapEntry(1, 'uid-a'), stringMessageMapEntry(1, 'uid-c')),
      ),
    ).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

const T0 = 1_767_225_600; // 2026-01-01T00:00:00Z
const HEALTHY_ALL: DeviceHealthEntry[] = [
  { poolName: 'node-a', deviceName: 'gpu-0', health: 'Healthy', lastUpdated: T0, message: '' },
  { poolName: 'node-a', deviceName: 'gpu-1', health: 'Healthy', lastUpdated: T0, message: '' },
];
const GPU1_FAILED: DeviceHealthEntry[] = [
  { poolName: 'node-a', deviceName: 'gpu-0', health: 'Healthy', lastUpdated: T0, message: '' },
  {
    poolName: 'node-a',
    deviceName: 'gpu-1',
    health: 'Unhealthy',
    lastUpdated: T0 + 7,
    message: 'XID 79: GPU has fallen off the bus',
  },
];

function healthDevice(
  pool: string,
  device: string,
  enumValue: number,
  time: number,
  extra: Buffer[] = [],
): Buffer {
  return messageField(
    1,
    messageField(1, stringField(1, pool), stringField(2, device)),
    ...(enumValue === 0 ? [] : [varintField(2, enumValue)]),
    varintField(3, time),
    ...extra,
  );
}

describe.each([
  ['v1', HealthV1Client],
  ['v1alpha1', HealthV1alpha1Client],
] as const)('DRAResourceHealth %s', (_version, HealthClient) => {
  it('sends the complete list on open and again on every change', async () => {
    fx.health.entries = HEALTHY_ALL;
    await start();
    const client = open(HealthClient, unix(fx.paths.draSocket));
    const stream = serverStream(client, 'NodeWatchResources', Buffer.alloc(0));
    const messages = collect(stream);

    const first = await messages.next(1);
    expect(
      first.equals(
        message(healthDevice('node-a', 'gpu-0', 1, T0), healthDevice('node-a', 'gpu-1', 1, T0)),
      ),
    ).toBe(true);
    await eventually(async () => (await gaugeValue(fx.metrics.healthStreams)) === 1);

    fx.health.set(GPU1_FAILED);
    const second = decode(await messages.next(2));
    const devices = second.messages(1);
    expect(devices).toHaveLength(2); // complete list, not a delta
    expect(devices.map((d) => d.message(1)?.string(2))).toEqual(['gpu-0', 'gpu-1']);
    expect(devices.map((d) => d.varint(2))).toEqual([1n, 2n]); // HEALTHY=1, UNHEALTHY=2
    expect(devices[1]?.varint(3)).toBe(BigInt(T0 + 7)); // int64 seconds as a varint
    expect(devices[1]?.string(5)).toBe('XID 79: GPU has fallen off the bus');

    stream.cancel();
    await eventually(async () => (await gaugeValue(fx.metrics.healthStreams)) === 0);
    expect(fx.health.listeners.size).toBe(0);
  });
});

describe('DRAResourceHealth details', () => {
  it('leaves UNKNOWN out (enum 0) and sends health_check_timeout_seconds when configured', async () => {
    fx.health.entries = [
      { poolName: 'node-a', deviceName: 'gpu-2', health: 'Unknown', lastUpdated: T0, message: '' },
    ];
    await start({ healthCheckTimeoutSeconds: 60 });
    const client = open(HealthV1Client, unix(fx.paths.draSocket));
    const messages = collect(serverStream(client, 'NodeWatchResources', Buffer.alloc(0)));
    const first = await messages.next(1);
    expect(
      first.equals(message(healthDevice('node-a', 'gpu-2', 0, T0, [varintField(4, 60)]))),
    ).toBe(true);
  });

  it('re-sends the complete list periodically so the kubelet does not time devices out', async () => {
    fx.health.entries = HEALTHY_ALL;
    await start({ healthResendIntervalMs: 40 });
    const client = open(HealthV1Client, unix(fx.paths.draSocket));
    const messages = collect(serverStream(client, 'NodeWatchResources', Buffer.alloc(0)));
    const third = await messages.next(3);
    expect(third.equals(await messages.next(1))).toBe(true);
  });

  it('ends open streams when the servers close', async () => {
    fx.health.entries = HEALTHY_ALL;
    const servers = await start();
    const client = open(HealthV1Client, unix(fx.paths.draSocket));
    const stream = serverStream(client, 'NodeWatchResources', Buffer.alloc(0));
    const messages = collect(stream);
    await messages.next(1);
    const ended = new Promise<void>((resolve) => stream.on('status', () => resolve()));
    await servers.close();
    await ended;
    expect(await gaugeValue(fx.metrics.healthStreams)).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

/** Leaves a socket file with nothing listening, as a killed process would. */
async function staleSocketAt(path: string): Promise<void> {
  mkdirSync(join(path, '..'), { recursive: true });
  const temp = `${path}.tmp`;
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(temp, resolve));
  renameSync(temp, path);
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('socket lifecycle', () => {
  it('replaces stale sockets left at our own paths', async () => {
    await staleSocketAt(fx.paths.registrationSocket);
    await staleSocketAt(fx.paths.draSocket);
    expect(lstatSync(fx.paths.registrationSocket).isSocket()).toBe(true);
    await start();
    const client = open(RegistrationClient, unix(fx.paths.registrationSocket));
    expect(decode(await unary(client, 'GetInfo', Buffer.alloc(0))).string(2)).toBe(DRIVER);
  });

  it('refuses to remove something that is not a socket and leaves nothing behind', async () => {
    mkdirSync(fx.paths.registrationDir, { recursive: true });
    writeFileSync(fx.paths.registrationSocket, 'not a socket');
    await expect(start()).rejects.toThrow(
      `${fx.paths.registrationSocket} exists and is not a unix socket; remove it or use another kubelet root directory`,
    );
    fx.servers = undefined;
    expect(readFileSync(fx.paths.registrationSocket, 'utf8')).toBe('not a socket');
    expect(existsSync(fx.paths.draSocket)).toBe(false);
  });

  it('removes both sockets on close, and close can be called twice', async () => {
    const servers = await start();
    expect(lstatSync(fx.paths.registrationSocket).isSocket()).toBe(true);
    expect(lstatSync(fx.paths.draSocket).isSocket()).toBe(true);
    await servers.close();
    await servers.close();
    expect(existsSync(fx.paths.registrationSocket)).toBe(false);
    expect(existsSync(fx.paths.draSocket)).toBe(false);
    const client = open(RegistrationClient, unix(fx.paths.registrationSocket));
    const err = await rejection(
      unary(client, 'GetInfo', Buffer.alloc(0), { deadline: Date.now() + 500 }),
    );
    expect([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]).toContain(err.code);
  });

  it('creates the DRA socket before the registration socket appears', async () => {
    mkdirSync(fx.paths.registrationDir, { recursive: true });
    mkdirSync(fx.paths.pluginDir, { recursive: true });
    const events: string[] = [];
    let draAnsweredWhenRegistrationAppeared: Promise<boolean> | undefined;
    const watchers: FSWatcher[] = [
      watch(fx.paths.pluginDir, (_event, file) => {
        if (file === basename(fx.paths.draSocket)) events.push('dra');
      }),
      watch(fx.paths.registrationDir, (_event, file) => {
        if (file !== basename(fx.paths.registrationSocket)) return;
        events.push('registration');
        draAnsweredWhenRegistrationAppeared ??= new Promise((resolve) => {
          const socket = connect(fx.paths.draSocket);
          socket.once('connect', () => {
            socket.destroy();
            resolve(true);
          });
          socket.once('error', () => resolve(false));
        });
      }),
    ];
    try {
      await start();
      await eventually(() => events.includes('registration'));
      expect(events.indexOf('dra')).toBeGreaterThanOrEqual(0);
      expect(events.indexOf('dra')).toBeLessThan(events.indexOf('registration'));
      expect(await draAnsweredWhenRegistrationAppeared).toBe(true);
    } finally {
      for (const w of watchers) w.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('liveness endpoint (grpc.health.v1)', () => {
  const SERVING = 1n;
  const NOT_SERVING = 2n;

  async function check(port: number, service: string): Promise<bigint | undefined> {
    const client = open(GrpcHealthClient, `127.0.0.1:${port}`);
    const request = service === '' ? Buffer.alloc(0) : message(stringField(1, service));
    return decode(await unary(client, 'Check', request)).varint(1);
  }

  it('is SERVING while both sockets answer and NOT_SERVING once they are gone', async () => {
    const servers = await start();
    const liveness = await startLivenessServer({
      port: 0,
      host: '127.0.0.1',
      checks: pluginLivenessChecks(servers, DRIVER),
      timeoutMs: 1_000,
    });
    try {
      expect(await check(liveness.port, '')).toBe(SERVING);
      expect(await check(liveness.port, 'liveness')).toBe(SERVING);
      await servers.close();
      expect(await check(liveness.port, 'liveness')).toBe(NOT_SERVING);
      const unknown = await rejection(check(liveness.port, 'something-else'));
      expect(unknown.code).toBe(status.NOT_FOUND);
    } finally {
      await liveness.close();
    }
  });

  it('is NOT_SERVING when a check hangs past the timeout', async () => {
    const hang: LivenessCheck = () => new Promise(() => undefined);
    const liveness = await startLivenessServer({
      port: 0,
      host: '127.0.0.1',
      checks: [hang],
      timeoutMs: 100,
    });
    try {
      const started = Date.now();
      expect(await check(liveness.port, 'liveness')).toBe(NOT_SERVING);
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await liveness.close();
    }
  });

  it('reports the registration socket as unhealthy when it answers for another driver', async () => {
    await start();
    const [registrationCheck] = pluginLivenessChecks(
      { registrationSocket: fx.paths.registrationSocket, draSocket: fx.paths.draSocket },
      'other.example.com',
    );
    await expect(registrationCheck?.(AbortSignal.timeout(1_000))).rejects.toThrow(
      /answered for driver "gpu.phalanx.dev"/,
    );
  });

  it('streams the status on Watch', async () => {
    const liveness = await startLivenessServer({
      port: 0,
      host: '127.0.0.1',
      checks: [],
      watchIntervalMs: 1_000,
    });
    try {
      const client = open(GrpcHealthClient, `127.0.0.1:${liveness.port}`);
      const stream = serverStream(client, 'Watch', message(stringField(1, 'liveness')));
      const first = decode(await collect(stream).next(1));
      expect(first.varint(1)).toBe(SERVING);
      stream.cancel();
    } finally {
      await liveness.close();
    }
  });
});
