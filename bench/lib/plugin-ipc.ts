/**
 * The messages between the benchmark (the kubelet side) and the plugin running in its own process
 * (`plugin-process.ts`). They travel over the Node IPC channel only at scenario boundaries —
 * start, reset the counters, collect phases and counters, file sizes, close — never during a
 * timed call: the plugin answers ResourceClaim GETs from the claim names (`claim-names.ts`).
 */
import {
  type ClaimFileSizes,
  type PluginRigOptions,
  type PluginServer,
  type PluginStats,
  startPluginServer,
} from './plugin-rig.ts';

/** Each operation's input and answer. */
export interface PluginOps {
  readonly start: {
    readonly input: PluginRigOptions;
    readonly output: { readonly registrationSocket: string };
  };
  readonly reset: { readonly input: null; readonly output: null };
  readonly collect: { readonly input: null; readonly output: PluginStats };
  readonly fileSizes: {
    readonly input: { readonly claimUid: string };
    readonly output: ClaimFileSizes;
  };
  readonly close: { readonly input: null; readonly output: null };
}

export type PluginOp = keyof PluginOps;

const OPS: readonly PluginOp[] = ['start', 'reset', 'collect', 'fileSizes', 'close'];

export interface PluginRequest<K extends PluginOp = PluginOp> {
  readonly id: number;
  readonly op: K;
  readonly input: PluginOps[K]['input'];
}

export type PluginReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

export function isPluginRequest(v: unknown): v is PluginRequest {
  return (
    isRecord(v) &&
    typeof v.id === 'number' &&
    typeof v.op === 'string' &&
    (OPS as readonly string[]).includes(v.op) &&
    'input' in v
  );
}

export function isPluginReply(v: unknown): v is PluginReply {
  if (!isRecord(v) || typeof v.id !== 'number') return false;
  return (v.ok === true && 'value' in v) || (v.ok === false && typeof v.error === 'string');
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The plugin process's side: holds the plugin server between requests. `start` must come first
 * and only once; after `close` only `close` is accepted (and does nothing).
 */
export class PluginRequestHandler {
  #server: PluginServer | undefined;
  #closed = false;

  /** Answers one request; failures become `{ ok: false, error }` replies, never rejections. */
  async reply(request: PluginRequest): Promise<PluginReply> {
    try {
      return { id: request.id, ok: true, value: await this.#run(request) };
    } catch (err) {
      return { id: request.id, ok: false, error: messageOf(err) };
    }
  }

  async #run(request: PluginRequest): Promise<unknown> {
    if (request.op === 'close') return this.close();
    if (this.#closed) throw new Error(`plugin is closed; cannot ${request.op}`);
    if (request.op === 'start') return this.#start(request as PluginRequest<'start'>);
    const server = this.#server;
    if (server === undefined)
      throw new Error(`plugin is not started; send start before ${request.op}`);
    switch (request.op) {
      case 'reset':
        server.resetStats();
        return null;
      case 'collect':
        return server.stats();
      case 'fileSizes':
        return server.fileSizes((request as PluginRequest<'fileSizes'>).input.claimUid);
      default:
        throw new Error(`unknown operation ${request.op}`);
    }
  }

  async #start(request: PluginRequest<'start'>): Promise<PluginOps['start']['output']> {
    if (this.#server !== undefined) throw new Error('plugin is already started');
    this.#server = await startPluginServer(request.input);
    return { registrationSocket: this.#server.registrationSocket };
  }

  /** Stops the plugin's servers; safe to call more than once. */
  async close(): Promise<null> {
    this.#closed = true;
    const server = this.#server;
    this.#server = undefined;
    await server?.close();
    return null;
  }
}
