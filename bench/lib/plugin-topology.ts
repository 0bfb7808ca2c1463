/**
 * Where the plugin under test runs relative to the benchmark's kubelet client:
 *
 *   process  the plugin in a child process of its own (forked `plugin-process.ts`), the client
 *            in the benchmark's process: as in a cluster, where the kubelet is a separate
 *            process, so neither side's garbage collection or callbacks stall the other.
 *   inline   both in the benchmark's process and event loop (the benchmark's original setup,
 *            kept for comparison).
 *
 * Either way the client dials the plugin's registration socket, reads GetInfo, confirms
 * registration and calls the DRA service over the advertised unix socket; phases and counters
 * are read only at scenario boundaries.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { PLUGIN_RUNTIME } from '../../src/config/plugin.ts';
import { KubeletClient } from '../../src/driver/kubelet-client.ts';
import { isPluginReply, type PluginOp, type PluginOps, type PluginReply } from './plugin-ipc.ts';
import {
  type ClaimFileSizes,
  type PluginRigOptions,
  type PluginStats,
  startPluginRig,
} from './plugin-rig.ts';

export const TOPOLOGIES = ['process', 'inline'] as const;
export type Topology = (typeof TOPOLOGIES)[number];
export const DEFAULT_TOPOLOGY: Topology = 'process';

/** One line on what a topology means, for the printed report and the result file. */
export function describeTopology(topology: Topology): string {
  return topology === 'process'
    ? `kubelet client in the benchmark process, plugin in a child process of its own (as in a cluster), started with ${PLUGIN_RUNTIME.nodeFlags.join(' ')} as shipped`
    : 'kubelet client and plugin in one process, sharing one event loop';
}

/**
 * Takes `--topology process|inline` (or `--topology=…`) out of `argv`; the rest goes to the common
 * flag parser. Throws a sentence naming the accepted values for anything else.
 */
export function takeTopologyFlag(argv: readonly string[]): {
  topology: Topology;
  rest: string[];
} {
  const rest: string[] = [];
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--topology') {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--'))
        throw new Error(`--topology needs a value: ${TOPOLOGIES.join(' or ')}`);
      i++;
    } else if (arg.startsWith('--topology=')) value = arg.slice('--topology='.length);
    else rest.push(arg);
  }
  if (value === undefined) return { topology: DEFAULT_TOPOLOGY, rest };
  const topology = TOPOLOGIES.find((t) => t === value);
  if (topology === undefined)
    throw new Error(
      `--topology ${JSON.stringify(value)} is not known; use ${TOPOLOGIES.join(' or ')}`,
    );
  return { topology, rest };
}

/** The plugin under test as the benchmark sees it, whichever topology it runs in. */
export interface PluginUnderTest {
  readonly topology: Topology;
  /** Process ID of the process serving the plugin's sockets. */
  readonly pluginPid: number;
  /** A registered kubelet client in this process. */
  readonly client: KubeletClient;
  /** Forgets the plugin's phases and checkpoint write count so far (call after a warm-up). */
  resetStats(): Promise<void>;
  /** Phases and checkpoint writes since the last reset. */
  collectStats(): Promise<PluginStats>;
  /** File sizes of a claim that is prepared now. */
  fileSizes(claimUid: string): Promise<ClaimFileSizes>;
  close(): Promise<void>;
}

export interface StartOptions extends PluginRigOptions {
  readonly topology: Topology;
  /**
   * Node flags for the plugin process. Default: the shipped ones (PLUGIN_RUNTIME) after this
   * process's own, so `--cpu-prof` or `--trace-gc` given to the benchmark apply to both.
   */
  readonly execArgv?: readonly string[];
}

export function startPluginUnderTest(options: StartOptions): Promise<PluginUnderTest> {
  const rig = { root: options.root, nodeName: options.nodeName, profile: options.profile };
  return options.topology === 'inline'
    ? startInline(rig)
    : startProcess(rig, options.execArgv ?? pluginExecArgv());
}

/** The plugin child's Node flags by default: this process's, then the shipped runtime flags. */
export function pluginExecArgv(): string[] {
  return [...process.execArgv, ...PLUGIN_RUNTIME.nodeFlags];
}

async function startInline(options: PluginRigOptions): Promise<PluginUnderTest> {
  const rig = await startPluginRig(options);
  return {
    topology: 'inline',
    pluginPid: process.pid,
    client: rig.client,
    resetStats: async () => rig.resetStats(),
    collectStats: async () => rig.stats(),
    fileSizes: (uid) => rig.fileSizes(uid),
    close: () => rig.close(),
  };
}

const PLUGIN_ENTRY = fileURLToPath(new URL('./plugin-process.ts', import.meta.url));
/** How long a plugin process gets to exit after its channel closes before it is killed. */
const EXIT_GRACE_MS = 5000;

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/** The parent's end of the IPC channel: one request at a time or many, matched by id. */
class PluginProcess {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  /** Why the process can take no more requests (it exited or failed), once it cannot. */
  #gone: string | undefined;

  constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (message: unknown) => {
      if (isPluginReply(message)) this.#settle(message);
    });
    child.on('exit', (code, signal) =>
      this.#fail(`plugin process ${child.pid ?? '?'} exited (${signal ?? `code ${code}`})`),
    );
    child.on('error', (err) => this.#fail(`plugin process failed: ${err.message}`));
  }

  #fail(why: string): void {
    this.#gone ??= why;
    for (const p of this.#pending.values()) p.reject(new Error(why));
    this.#pending.clear();
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  #settle(reply: PluginReply): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(new Error(`plugin process: ${reply.error}`));
  }

  call<K extends PluginOp>(op: K, input: PluginOps[K]['input']): Promise<PluginOps[K]['output']> {
    if (this.#gone !== undefined) return Promise.reject(new Error(this.#gone));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, {
        resolve: (value) => resolve(value as PluginOps[K]['output']),
        reject,
      });
      this.#child.send({ id, op, input }, (err) => {
        if (err === null) return;
        this.#pending.delete(id);
        reject(err);
      });
    });
  }

  /** Closes the channel and waits for the exit; kills the process if it lingers. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exit = once(child, 'exit');
    if (child.connected) child.disconnect();
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_GRACE_MS);
    await exit;
    clearTimeout(timer);
  }
}

async function startProcess(
  options: PluginRigOptions,
  execArgv: readonly string[],
): Promise<PluginUnderTest> {
  const child = fork(PLUGIN_ENTRY, [], {
    execArgv: [...execArgv],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const plugin = new PluginProcess(child);
  let client: KubeletClient | undefined;
  try {
    const { registrationSocket } = await plugin.call('start', options);
    client = new KubeletClient(registrationSocket);
    await client.register();
  } catch (err) {
    client?.close();
    await plugin.stop();
    throw err;
  }
  const registered = client;
  return {
    topology: 'process',
    pluginPid: plugin.pid,
    client: registered,
    resetStats: async () => {
      await plugin.call('reset', null);
    },
    collectStats: () => plugin.call('collect', null),
    fileSizes: (claimUid) => plugin.call('fileSizes', { claimUid }),
    async close() {
      registered.close();
      try {
        await plugin.call('close', null);
      } finally {
        await plugin.stop();
      }
    },
  };
}
