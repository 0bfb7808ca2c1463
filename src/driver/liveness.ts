/**
 * The plugin's liveness endpoint: grpc.health.v1 on a TCP port for Kubernetes gRPC probes. It
 * answers SERVING only while the plugin's own registration socket answers GetInfo for this
 * driver and its DRA socket accepts connections, so a wedged plugin gets restarted.
 */
import { connect } from 'node:net';
import { Client, credentials, Server, ServerCredentials, status } from '@grpc/grpc-js';
import type { Logger } from '../observability/logger.ts';
import type { PluginServers } from './grpc-server.ts';
import {
  type GrpcHealthImplementation,
  type InfoRequestMessage,
  kubeletServices,
  type PluginInfoMessage,
  type ServingStatusName,
} from './protos.ts';

/** Upper bound of one GetInfo liveness call; the caller's signal usually ends it sooner. */
const REGISTRATION_CHECK_DEADLINE_MS = 5_000;

/** Resolves when healthy; rejects with a reason otherwise. Must honour the signal. */
export type LivenessCheck = (signal: AbortSignal) => Promise<void>;

/** Service names the liveness endpoint answers for. */
export const LIVENESS_SERVICES = ['', 'liveness'] as const;

export interface LivenessOptions {
  readonly port: number;
  /** Default `0.0.0.0` so the kubelet can probe the pod IP. */
  readonly host?: string;
  readonly checks: readonly LivenessCheck[];
  /** Bound on all checks together. Default 1 s. */
  readonly timeoutMs?: number;
  /** How often a Watch stream re-evaluates. Default 5 s. */
  readonly watchIntervalMs?: number;
  readonly logger?: Logger;
}

export interface LivenessServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

async function runChecks(
  checks: readonly LivenessCheck[],
  timeoutMs: number,
  logger: Logger | undefined,
): Promise<ServingStatusName> {
  const signal = AbortSignal.timeout(timeoutMs);
  const timedOut = new Promise<never>((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(new Error(`checks took over ${timeoutMs} ms`)));
  });
  timedOut.catch(() => undefined);
  try {
    await Promise.race([Promise.all(checks.map((check) => check(signal))), timedOut]);
    return 'SERVING';
  } catch (err) {
    logger?.warn({ err }, 'liveness check failed');
    return 'NOT_SERVING';
  }
}

function isLivenessService(service: string | undefined): boolean {
  return (LIVENESS_SERVICES as readonly string[]).includes(service ?? '');
}

function grpcHealth(options: LivenessOptions, stopped: () => boolean): GrpcHealthImplementation {
  const timeoutMs = options.timeoutMs ?? 1_000;
  const evaluate = (): Promise<ServingStatusName> =>
    runChecks(options.checks, timeoutMs, options.logger);
  return {
    Check: (call, callback) => {
      if (!isLivenessService(call.request.service)) {
        callback({ code: status.NOT_FOUND, details: `unknown service "${call.request.service}"` });
        return;
      }
      void evaluate().then((s) => callback(null, { status: s }));
    },
    Watch: (call) => {
      if (!isLivenessService(call.request.service)) {
        call.write({ status: 'SERVICE_UNKNOWN' });
        return;
      }
      let last: ServingStatusName | undefined;
      const tick = async (): Promise<void> => {
        const next = await evaluate();
        if (next !== last && !call.cancelled && !stopped()) call.write({ status: next });
        last = next;
      };
      const timer = setInterval(() => void tick(), options.watchIntervalMs ?? 5_000).unref();
      const stop = (): void => clearInterval(timer);
      call.on('cancelled', stop);
      call.on('close', stop);
      void tick();
    },
  };
}

/** Serves grpc.health.v1 on TCP; SERVING only while every check passes within the timeout. */
export async function startLivenessServer(options: LivenessOptions): Promise<LivenessServer> {
  let stopped = false;
  const server = new Server();
  server.addService(
    kubeletServices().grpcHealth,
    grpcHealth(options, () => stopped),
  );
  const host = options.host ?? '0.0.0.0';
  const address = host.includes(':') ? `[${host}]:${options.port}` : `${host}:${options.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, bound) => {
      if (err === null) resolve(bound);
      else reject(new Error(`cannot serve liveness on ${address}: ${err.message}`));
    });
  });
  return {
    port,
    close: async () => {
      stopped = true;
      server.forceShutdown();
    },
  };
}

/** Healthy when the registration socket answers GetInfo with our driver name. */
export function registrationSocketCheck(path: string, driverName: string): LivenessCheck {
  const method = kubeletServices().registration.GetInfo;
  return (signal) =>
    new Promise<void>((resolve, reject) => {
      const client = new Client(`unix:${path}`, credentials.createInsecure());
      const done = (err?: Error): void => {
        client.close();
        if (err === undefined) resolve();
        else reject(err);
      };
      const call = client.makeUnaryRequest<InfoRequestMessage, PluginInfoMessage>(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        {},
        { deadline: Date.now() + REGISTRATION_CHECK_DEADLINE_MS },
        (err, info) => {
          if (err !== null) done(new Error(`GetInfo on ${path} failed: ${err.details}`));
          else if (info?.name !== driverName)
            done(new Error(`GetInfo on ${path} answered for driver "${info?.name}"`));
          else done();
        },
      );
      signal.addEventListener('abort', () => call.cancel(), { once: true });
    });
}

/** Healthy when the unix socket accepts a connection. */
export function socketAcceptCheck(path: string): LivenessCheck {
  return (signal) =>
    new Promise<void>((resolve, reject) => {
      const socket = connect({ path, signal });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', (err) => reject(new Error(`cannot connect to ${path}: ${err.message}`)));
    });
}

/** The liveness checks for a running plugin: GetInfo on the registration socket, a connection to the DRA socket. */
export function pluginLivenessChecks(
  servers: Pick<PluginServers, 'registrationSocket' | 'draSocket'>,
  driverName: string,
): LivenessCheck[] {
  return [
    registrationSocketCheck(servers.registrationSocket, driverName),
    socketAcceptCheck(servers.draSocket),
  ];
}
