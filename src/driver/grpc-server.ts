/**
 * The kubelet-facing gRPC servers of the plugin: the DRA socket (DRAPlugin v1 + v1beta1 and
 * DRAResourceHealth v1 + v1alpha1) and the registration socket (pluginregistration), plus an
 * optional TCP liveness endpoint speaking grpc.health.v1.
 *
 * This layer only adapts wire messages to the {@link DraHandler} / {@link HealthSource} seam: every
 * claim in a request gets an entry in the response, per-claim failures travel in `error`, and a
 * gRPC error is returned only for a malformed request. Outgoing messages leave proto3 defaults out
 * so the bytes equal what a Go plugin would send (see protos.ts).
 */
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  type Deadline,
  type handleUnaryCall,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServerWritableStream,
  status,
} from '@grpc/grpc-js';
import type { Logger } from '../observability/logger.ts';
import type { DriverMetrics } from '../observability/metrics.ts';
import {
  type ClaimMessage,
  type DeviceHealthMessage,
  type DeviceV1beta1Message,
  type DeviceV1Message,
  type DraPluginImplementation,
  kubeletServices,
  type NodePrepareResourceResponseMessage,
  type NodeUnprepareResourceResponseMessage,
  type NodeWatchResourcesRequestMessage,
  type NodeWatchResourcesResponseMessage,
  type PluginInfoMessage,
  type RegistrationImplementation,
  type ResourceHealthImplementation,
} from './protos.ts';
import type { PluginSocketPaths } from './sockets.ts';
import type {
  ClaimRef,
  DeviceHealthEntry,
  DraHandler,
  HealthSource,
  PreparedDevice,
  PrepareOutcome,
  UnprepareOutcome,
} from './types.ts';

/** The `type` the kubelet expects in GetInfo for a DRA driver. */
export const DRA_PLUGIN_TYPE = 'DRAPlugin';

/**
 * What GetInfo advertises, in order of preference. These are registration strings, not the full
 * gRPC service names (those carry the proto package, e.g. `k8s.io.kubelet.pkg.apis.dra.v1`).
 */
export const SUPPORTED_VERSIONS = [
  'v1.DRAPlugin',
  'v1beta1.DRAPlugin',
  'v1.DRAResourceHealth',
  'v1alpha1.DRAResourceHealth',
] as const;

/** The kubelet gives each health entry 30 s; re-sending every 10 s keeps devices from going stale. */
export const DEFAULT_HEALTH_RESEND_INTERVAL_MS = 10_000;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 2_000;

export interface RegistrationStatusEvent {
  readonly registered: boolean;
  /** The kubelet's error message; empty on success. */
  readonly error: string;
}

export interface PluginServerOptions {
  readonly driverName: string;
  readonly paths: Pick<PluginSocketPaths, 'registrationSocket' | 'draSocket'>;
  readonly handler: DraHandler;
  readonly health: HealthSource;
  readonly metrics: DriverMetrics;
  readonly logger: Logger;
  /** Called after every NotifyRegistrationStatus from the kubelet. */
  readonly onRegistrationStatus?: (status: RegistrationStatusEvent) => void;
  /**
   * How often every open health stream re-sends the complete device list even without a change,
   * so the kubelet's 30 s staleness timeout never marks devices Unknown. 0 turns it off.
   */
  readonly healthResendIntervalMs?: number;
  /** Sent as `health_check_timeout_seconds` for every device; absent lets the kubelet decide. */
  readonly healthCheckTimeoutSeconds?: number;
  /** How long close() lets in-flight calls finish before cutting them off. */
  readonly shutdownTimeoutMs?: number;
}

export interface PluginServers {
  readonly registrationSocket: string;
  readonly draSocket: string;
  /** The constant GetInfo answer. */
  readonly pluginInfo: PluginInfoMessage;
  /** Stops both servers and removes our socket files. Safe to call more than once. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
}

/** Removes a leftover socket at our own path; refuses to touch anything that is not a socket. */
export async function removeStaleSocket(path: string): Promise<boolean> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw err;
  }
  if (!isSocket)
    throw new Error(
      `${path} exists and is not a unix socket; remove it or use another kubelet root directory`,
    );
  try {
    await unlink(path);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
  return true;
}

function bindUnix(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`unix:${path}`, ServerCredentials.createInsecure(), (err) => {
      if (err === null) resolve();
      else reject(new Error(`cannot listen on unix socket ${path}: ${err.message}`));
    });
  });
}

/** Graceful shutdown that gives up after `timeoutMs` and cuts remaining calls off. */
function shutdown(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      server.forceShutdown();
      finish();
    }, timeoutMs);
    server.tryShutdown(finish);
  });
}

function deadlineMs(deadline: Deadline): number {
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/** An AbortSignal that fires when the kubelet cancels the call or its deadline passes. */
function callSignal(call: ServerUnaryCall<unknown, unknown>): {
  signal: AbortSignal;
  dispose: () => void;
} {
  const controller = new AbortController();
  const onCancel = (): void => controller.abort(new Error('the kubelet cancelled the call'));
  call.on('cancelled', onCancel);
  const remaining = deadlineMs(call.getDeadline()) - Date.now();
  const timer = Number.isFinite(remaining)
    ? setTimeout(
        () => controller.abort(new Error('the call ran past its deadline')),
        Math.max(0, remaining),
      )
    : undefined;
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      call.off('cancelled', onCancel);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// DRAPlugin: request validation and response shaping

/** Returns the claims, or a sentence describing what is wrong with the request. */
export function claimRefsFromRequest(
  claims: readonly ClaimMessage[] | undefined,
  requireNames: boolean,
): ClaimRef[] | string {
  const refs: ClaimRef[] = [];
  const seen = new Set<string>();
  for (const [index, claim] of (claims ?? []).entries()) {
    const { namespace, name, uid } = claim;
    if (uid === '')
      return `claim ${index} (${namespace}/${name}) has no uid; every claim needs its ResourceClaim UID`;
    if (requireNames && (namespace === '' || name === ''))
      return `claim ${index} (uid ${uid}) needs both namespace and name`;
    if (seen.has(uid)) continue;
    seen.add(uid);
    refs.push({ namespace, name, uid });
  }
  return refs;
}

/** `req/sub` → `req`: the kubelet matches containers against base request names. */
export function baseRequestName(name: string): string {
  const slash = name.indexOf('/');
  return slash < 0 ? name : name.slice(0, slash);
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function deviceV1beta1(device: PreparedDevice): DeviceV1beta1Message {
  const out: Mutable<DeviceV1beta1Message> = {};
  if (device.requestNames.length > 0) out.request_names = device.requestNames.map(baseRequestName);
  if (device.poolName !== '') out.pool_name = device.poolName;
  if (device.deviceName !== '') out.device_name = device.deviceName;
  if (device.cdiDeviceIds.length > 0) out.cdi_device_ids = [...device.cdiDeviceIds];
  return out;
}

function deviceV1(device: PreparedDevice): DeviceV1Message {
  const base = deviceV1beta1(device);
  return device.shareId === undefined ? base : { ...base, share_id: device.shareId };
}

function prepareEntry<D extends DeviceV1beta1Message>(
  outcome: PrepareOutcome,
  toDevice: (device: PreparedDevice) => D,
): NodePrepareResourceResponseMessage<D> {
  if ('error' in outcome)
    return { error: outcome.error === '' ? 'preparing failed without a message' : outcome.error };
  return outcome.devices.length === 0 ? {} : { devices: outcome.devices.map(toDevice) };
}

function unprepareEntry(outcome: UnprepareOutcome): NodeUnprepareResourceResponseMessage {
  return outcome.error === undefined || outcome.error === '' ? {} : { error: outcome.error };
}

interface CallContext {
  readonly method: string;
  readonly logger: Logger;
  readonly signal: AbortSignal;
}

/**
 * Runs the handler and returns exactly one outcome per requested claim, in request order: a
 * missing entry or a rejected handler becomes a per-claim error.
 */
async function outcomesForEveryClaim<O>(
  claims: readonly ClaimRef[],
  context: CallContext,
  run: (claims: readonly ClaimRef[], signal: AbortSignal) => Promise<Map<string, O>>,
  failure: (message: string) => O,
): Promise<Map<string, O>> {
  if (claims.length === 0) return new Map();
  let results: Map<string, O>;
  try {
    results = await run(claims, context.signal);
  } catch (err) {
    const message = context.signal.aborted
      ? `${context.method} stopped: ${errorMessage(context.signal.reason)}; the kubelet will retry`
      : `${context.method} failed: ${errorMessage(err)}`;
    context.logger.error({ err }, 'driver handler failed for the whole request');
    return new Map(claims.map((claim) => [claim.uid, failure(message)]));
  }
  const out = new Map<string, O>();
  for (const claim of claims) {
    const result = results.get(claim.uid);
    out.set(
      claim.uid,
      result ??
        failure(
          `claim ${claim.namespace}/${claim.name}: the driver returned no result for it; the kubelet will retry`,
        ),
    );
  }
  for (const uid of results.keys())
    if (!out.has(uid)) context.logger.warn({ uid }, 'dropped a result for a claim not requested');
  return out;
}

// ---------------------------------------------------------------------------------------------
// Health stream shaping

const HEALTH_STATUS = { Unknown: 'UNKNOWN', Healthy: 'HEALTHY', Unhealthy: 'UNHEALTHY' } as const;

export function deviceHealthMessage(
  entry: DeviceHealthEntry,
  timeoutSeconds?: number,
): DeviceHealthMessage {
  const device: Mutable<NonNullable<DeviceHealthMessage['device']>> = {};
  if (entry.poolName !== '') device.pool_name = entry.poolName;
  if (entry.deviceName !== '') device.device_name = entry.deviceName;
  const out: Mutable<DeviceHealthMessage> = { device };
  if (entry.health !== 'Unknown') out.health = HEALTH_STATUS[entry.health];
  const seconds = Math.trunc(entry.lastUpdated);
  if (seconds !== 0) out.last_updated_time = seconds;
  if (timeoutSeconds !== undefined && timeoutSeconds > 0)
    out.health_check_timeout_seconds = Math.trunc(timeoutSeconds);
  if (entry.message !== '') out.message = entry.message;
  return out;
}

// ---------------------------------------------------------------------------------------------
// The servers

interface Context {
  readonly options: PluginServerOptions;
  readonly logger: Logger;
  /** Ends every open health stream (used on close). */
  readonly openStreams: Set<() => void>;
  nextRequestId: number;
}

function callContext(ctx: Context, method: string, signal: AbortSignal): CallContext {
  ctx.nextRequestId += 1;
  return { method, signal, logger: ctx.logger.child({ method, requestId: ctx.nextRequestId }) };
}

interface ClaimsRequest {
  readonly claims: readonly ClaimMessage[];
}

interface ClaimsResponse<E> {
  readonly claims: Readonly<Record<string, E>>;
}

interface ClaimsMethod<O, E> {
  readonly method: string;
  /** Prepare needs namespace and name to fetch the claim; unprepare only needs the UID. */
  readonly requireNames: boolean;
  readonly run: (claims: readonly ClaimRef[], signal: AbortSignal) => Promise<Map<string, O>>;
  readonly failure: (message: string) => O;
  readonly toEntry: (outcome: O) => E;
}

/** One unary claims call: validate, run the handler with a call-scoped signal, answer every claim. */
function claimsCall<O, E>(
  ctx: Context,
  spec: ClaimsMethod<O, E>,
): handleUnaryCall<ClaimsRequest, ClaimsResponse<E>> {
  return (call, callback) => {
    const claims = claimRefsFromRequest(call.request.claims, spec.requireNames);
    if (typeof claims === 'string') {
      callback({ code: status.INVALID_ARGUMENT, details: `${spec.method}: ${claims}` });
      return;
    }
    const { signal, dispose } = callSignal(call);
    const context = callContext(ctx, spec.method, signal);
    context.logger.debug({ claims }, 'request');
    outcomesForEveryClaim(claims, context, spec.run, spec.failure)
      .then((outcomes) => {
        const entries: Record<string, E> = {};
        for (const [uid, outcome] of outcomes) entries[uid] = spec.toEntry(outcome);
        context.logger.debug({ claims: entries }, 'response');
        callback(null, { claims: entries });
      })
      .catch((err: unknown) => context.logger.error({ err }, 'cannot send the response'))
      .finally(dispose);
  };
}

function draPlugin<D extends DeviceV1beta1Message>(
  ctx: Context,
  version: string,
  toDevice: (device: PreparedDevice) => D,
): DraPluginImplementation<D> {
  const { handler } = ctx.options;
  return {
    NodePrepareResources: claimsCall(ctx, {
      method: `${version}.NodePrepareResources`,
      requireNames: true,
      run: (claims, signal) => handler.prepareResources(claims, signal),
      failure: (error): PrepareOutcome => ({ error }),
      toEntry: (outcome) => prepareEntry(outcome, toDevice),
    }),
    NodeUnprepareResources: claimsCall(ctx, {
      method: `${version}.NodeUnprepareResources`,
      requireNames: false,
      run: (claims, signal) => handler.unprepareResources(claims, signal),
      failure: (error): UnprepareOutcome => ({ error }),
      toEntry: unprepareEntry,
    }),
  };
}

function serveHealthStream(
  ctx: Context,
  version: string,
  call: ServerWritableStream<NodeWatchResourcesRequestMessage, NodeWatchResourcesResponseMessage>,
): void {
  const { health, metrics, healthCheckTimeoutSeconds } = ctx.options;
  const logger = ctx.logger.child({ method: `${version}.NodeWatchResources` });
  const resendMs = ctx.options.healthResendIntervalMs ?? DEFAULT_HEALTH_RESEND_INTERVAL_MS;
  let closed = false;
  let blocked = false;
  let pending: readonly DeviceHealthEntry[] | undefined;

  const send = (entries: readonly DeviceHealthEntry[]): void => {
    if (closed) return;
    if (blocked) {
      pending = entries; // coalesce: only the newest complete list matters
      return;
    }
    const devices = entries.map((e) => deviceHealthMessage(e, healthCheckTimeoutSeconds));
    blocked = !call.write({ devices });
  };
  const resend = (): void => {
    try {
      send(health.snapshot());
    } catch (err) {
      logger.error({ err }, 'cannot read device health');
    }
  };

  metrics.healthStreams.inc();
  const unsubscribe = health.subscribe(send);
  const timer = resendMs > 0 ? setInterval(resend, resendMs).unref() : undefined;
  const finish = (): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    clearInterval(timer);
    ctx.openStreams.delete(endStream);
    metrics.healthStreams.dec();
    logger.debug('health stream closed');
  };
  const endStream = (): void => {
    finish();
    call.end();
  };
  ctx.openStreams.add(endStream);
  call.on('drain', () => {
    blocked = false;
    const next = pending;
    pending = undefined;
    if (next !== undefined) send(next);
  });
  call.on('cancelled', finish);
  call.on('error', finish);
  call.on('close', finish);
  logger.debug('health stream opened');
  resend();
}

function resourceHealth(ctx: Context, version: string): ResourceHealthImplementation {
  return { NodeWatchResources: (call) => serveHealthStream(ctx, version, call) };
}

function registration(ctx: Context, info: PluginInfoMessage): RegistrationImplementation {
  const { metrics, onRegistrationStatus } = ctx.options;
  const logger = ctx.logger.child({ method: 'Registration' });
  return {
    GetInfo: (_call, callback) => callback(null, info),
    NotifyRegistrationStatus: (call, callback) => {
      const registered = call.request.plugin_registered === true;
      const error = call.request.error;
      metrics.registrations.inc({ result: registered ? 'success' : 'error' });
      metrics.registered.set(registered ? 1 : 0);
      if (registered) logger.info('the kubelet registered the plugin');
      else logger.error({ error }, 'the kubelet rejected the plugin registration');
      try {
        onRegistrationStatus?.({ registered, error });
      } catch (err) {
        logger.error({ err }, 'registration status callback failed');
      }
      if (registered) callback(null, {});
      else
        callback({
          code: status.FAILED_PRECONDITION,
          details: `plugin registration failed: ${error === '' ? 'the kubelet gave no reason' : error}`,
        });
    },
  };
}

function draServer(ctx: Context): Server {
  const services = kubeletServices();
  const server = new Server();
  server.addService(services.draV1, draPlugin(ctx, 'v1', deviceV1));
  server.addService(services.draV1beta1, draPlugin(ctx, 'v1beta1', deviceV1beta1));
  server.addService(services.healthV1, resourceHealth(ctx, 'v1'));
  server.addService(services.healthV1alpha1, resourceHealth(ctx, 'v1alpha1'));
  return server;
}

async function listenOn(server: Server, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await removeStaleSocket(path);
  await bindUnix(server, path);
}

async function stopServer(server: Server, path: string, timeoutMs: number): Promise<void> {
  await shutdown(server, timeoutMs);
  await removeStaleSocket(path).catch(() => false);
}

/**
 * Serves the DRA socket, then (only once it listens) the registration socket, so the kubelet never
 * learns of an endpoint that does not answer yet.
 */
export async function startPluginServers(options: PluginServerOptions): Promise<PluginServers> {
  const { registrationSocket, draSocket } = options.paths;
  const logger = options.logger.child({ driver: options.driverName });
  const ctx: Context = { options, logger, openStreams: new Set(), nextRequestId: 0 };
  const timeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  const pluginInfo: PluginInfoMessage = Object.freeze({
    type: DRA_PLUGIN_TYPE,
    name: options.driverName,
    endpoint: draSocket,
    supported_versions: Object.freeze([...SUPPORTED_VERSIONS]),
  });

  const dra = draServer(ctx);
  await listenOn(dra, draSocket).catch(async (err: unknown) => {
    dra.forceShutdown();
    throw err;
  });
  logger.info({ socket: draSocket }, 'DRA service listening');

  const registrar = new Server();
  registrar.addService(kubeletServices().registration, registration(ctx, pluginInfo));
  try {
    await listenOn(registrar, registrationSocket);
  } catch (err) {
    registrar.forceShutdown();
    await stopServer(dra, draSocket, 0);
    throw err;
  }
  logger.info({ socket: registrationSocket }, 'registration service listening');

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    // The registration socket goes first: its removal tells the kubelet we are leaving.
    await stopServer(registrar, registrationSocket, timeoutMs);
    for (const end of [...ctx.openStreams]) end();
    await stopServer(dra, draSocket, timeoutMs);
    options.metrics.registered.set(0);
    logger.info('plugin servers stopped');
  };
  return {
    registrationSocket,
    draSocket,
    pluginInfo,
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}
