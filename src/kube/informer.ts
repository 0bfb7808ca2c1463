/**
 * List+watch caches of API objects, and the set of them the scheduler side reads.
 *
 * An {@link Informer} lists a resource once, then watches it from the list's resourceVersion and
 * keeps every object as received (plain JSON, minus `metadata.managedFields`, which nothing here
 * reads and which is often the largest part of a pod). When the server says the version is too
 * old (HTTP 410 Gone, or a watch ERROR event with code 410) it lists again; any other failure
 * reconnects with exponential backoff. `synced` settles after the first complete list.
 *
 * The watch stream is {@link KubeClient.watch} (one JSON event per line, over the client's
 * credentials). The list+watch loop is our own rather than client-node's `ListWatch`, because
 * that one stops for good on any error other than 410 or a timeout, and has no synced signal or
 * list pagination.
 *
 * {@link ClusterInformers} runs one informer per resource the planner and the extender read, and
 * builds the core's {@link ClusterObjects} from them once per change (memoised on the caches'
 * versions), so the extender's hot path never copies the world per call.
 */
import type { ResourceClaim, ResourceSlice } from '../api/resource/v1.ts';
import type { Logger } from '../observability/logger.ts';
import type {
  ClaimTemplateObject,
  ClusterObjects,
  NodeObject,
  PodGroupObject,
} from '../scheduling/round-types.ts';
import type { DeviceClassObject, PodObject } from '../scheduling/workload.ts';
import { NodeCompactor } from './node-compaction.ts';
import { KubeApiError, type KubeClient } from './rest.ts';
import { type InternStats, SliceCompactor } from './slice-compaction.ts';

export interface KubeObject {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    managedFields?: unknown;
  };
}

/** An API resource: group ('' for core), version and plural name. */
export interface ResourceType {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

export function apiVersionOf(r: ResourceType): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

/** The collection path, cluster-wide or in one namespace. */
export function resourcePath(r: ResourceType, namespace?: string): string {
  const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  const ns = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  return `${base}${ns}/${r.plural}`;
}

export function describeResource(r: ResourceType): string {
  return `${r.plural}.${apiVersionOf(r)}`;
}

export const RESOURCES = {
  pods: { group: '', version: 'v1', plural: 'pods' },
  nodes: { group: '', version: 'v1', plural: 'nodes' },
  namespaces: { group: '', version: 'v1', plural: 'namespaces' },
  resourceSlices: { group: 'resource.k8s.io', version: 'v1', plural: 'resourceslices' },
  resourceClaims: { group: 'resource.k8s.io', version: 'v1', plural: 'resourceclaims' },
  resourceClaimTemplates: {
    group: 'resource.k8s.io',
    version: 'v1',
    plural: 'resourceclaimtemplates',
  },
  deviceClasses: { group: 'resource.k8s.io', version: 'v1', plural: 'deviceclasses' },
  queues: { group: 'scheduling.phalanx.dev', version: 'v1alpha1', plural: 'queues' },
} as const satisfies Readonly<Record<string, ResourceType>>;

// ---- the list+watch source --------------------------------------------------------------------

export interface ListPage<T> {
  readonly items: readonly T[];
  readonly resourceVersion: string;
}

/** Where an informer's objects come from; the API server in production, a fake in tests. */
export interface ListWatchSource<T> {
  /** A person-readable name, e.g. `pods.v1`. */
  readonly description: string;
  /** Every object, and the resourceVersion to watch from. */
  list(signal: AbortSignal): Promise<ListPage<T>>;
  /**
   * Streams events from `resourceVersion` until the server ends the watch (resolves) or it fails
   * (rejects; {@link ResourceGoneError} when the version is too old).
   */
  watch(
    resourceVersion: string,
    onEvent: (type: string, object: unknown) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

/** The watched resourceVersion is too old for the server (410 Gone): list again. */
export class ResourceGoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResourceGoneError';
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export interface ApiListWatchOptions<T> {
  readonly namespace?: string;
  /** Objects per list page (default 500). */
  readonly pageSize?: number;
  readonly watchTimeoutSeconds?: number;
  /**
   * Applied to each listed object as its page arrives, so a large list never holds every object
   * as received at once (the informer's own transform must then accept its output unchanged).
   */
  readonly transform?: (object: T) => T;
}

/** Lists (paginated) and watches one resource through the API server. */
export class ApiListWatch<T extends KubeObject> implements ListWatchSource<T> {
  readonly description: string;
  readonly #client: KubeClient;
  readonly #path: string;
  readonly #pageSize: number;
  readonly #watchSeconds: () => number;
  readonly #transform: ((object: T) => T) | undefined;

  constructor(client: KubeClient, resource: ResourceType, options: ApiListWatchOptions<T> = {}) {
    this.#client = client;
    this.#transform = options.transform;
    this.#path = resourcePath(resource, options.namespace);
    this.description =
      options.namespace === undefined
        ? describeResource(resource)
        : `${describeResource(resource)} in ${options.namespace}`;
    this.#pageSize = options.pageSize ?? 500;
    const base = options.watchTimeoutSeconds ?? 300;
    // Spread the server-side watch ends, as client-go's reflector does, so replicas do not relist together.
    this.#watchSeconds = () => Math.round(base * (1 + Math.random()));
  }

  async list(signal: AbortSignal): Promise<ListPage<T>> {
    const items: T[] = [];
    let next = '';
    for (;;) {
      const query: Record<string, string> = { limit: String(this.#pageSize) };
      if (next !== '') query.continue = next;
      const page = await this.#client.request<{
        items?: T[];
        metadata?: { resourceVersion?: string; continue?: string };
      }>('GET', this.#path, { query, signal });
      const transform = this.#transform;
      for (const item of page.items ?? [])
        items.push(transform === undefined ? item : transform(item));
      next = page.metadata?.continue ?? '';
      if (next === '') return { items, resourceVersion: page.metadata?.resourceVersion ?? '' };
    }
  }

  async watch(
    resourceVersion: string,
    onEvent: (type: string, object: unknown) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const seconds = this.#watchSeconds();
    const query = {
      resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(seconds),
    };
    // The watch ends at the first ERROR event: the abort stops the stream, the error is thrown.
    const stop = new AbortController();
    let failure: Error | undefined;
    const onLine = (type: string, object: unknown): void => {
      if (failure !== undefined) return;
      if (type === 'ERROR') {
        failure = this.#statusError(object);
        stop.abort();
        return;
      }
      onEvent(type, object);
    };
    // A quiet watch still gets a bookmark about once a minute; past that the connection is dead.
    const idleMs = (seconds + 90) * 1000;
    try {
      await this.#client.watch(
        this.#path,
        query,
        onLine,
        AbortSignal.any([signal, stop.signal]),
        idleMs,
      );
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 410) {
        throw new ResourceGoneError(`watch ${this.description}: 410 Gone`);
      }
      const status =
        error instanceof KubeApiError && error.status > 0 ? ` (HTTP ${error.status})` : '';
      throw new Error(`watch ${this.description}${status}: ${errorText(error)}`);
    }
    if (failure !== undefined) throw failure;
  }

  #statusError(object: unknown): Error {
    const status = (object ?? {}) as { code?: number; message?: string; reason?: string };
    const text = `watch ${this.description}: ${status.reason ?? 'Error'}: ${status.message ?? ''}`;
    return status.code === 410 ? new ResourceGoneError(text) : new Error(text);
  }
}

// ---- the informer -----------------------------------------------------------------------------

export type ChangeType = 'added' | 'updated' | 'deleted';

export interface InformerChange<T> {
  readonly type: ChangeType;
  readonly object: T;
}

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

export interface InformerOptions<T> {
  readonly logger: Logger;
  readonly backoff?: BackoffOptions;
  /** Applied to every object before it is stored; default drops `metadata.managedFields`. */
  readonly transform?: (object: T) => T;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

/** Drops `metadata.managedFields` (server-side-apply bookkeeping, never read here). */
export function stripManagedFields<T extends KubeObject>(object: T): T {
  if (object.metadata?.managedFields === undefined) return object;
  const { managedFields: _dropped, ...metadata } = object.metadata;
  return { ...object, metadata };
}

export function objectKey(object: KubeObject): string {
  const m = object.metadata ?? {};
  return m.namespace === undefined || m.namespace === ''
    ? (m.name ?? '')
    : `${m.namespace}/${m.name ?? ''}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** One resource's cache, kept current by list+watch. */
export class Informer<T extends KubeObject> {
  readonly #source: ListWatchSource<T>;
  readonly #logger: Logger;
  readonly #backoff: BackoffOptions;
  readonly #transform: (object: T) => T;
  readonly #objects = new Map<string, T>();
  readonly #listeners = new Set<(change: InformerChange<T>) => void>();
  readonly #abort = new AbortController();
  readonly #synced: Promise<void>;
  #resolveSynced: () => void = () => {};
  #rejectSynced: (error: Error) => void = () => {};
  #hasSynced = false;
  #version = 0;
  #listed: { version: number; items: readonly T[] } | undefined;
  #running: Promise<void> | undefined;
  #lastError = '';

  constructor(source: ListWatchSource<T>, options: InformerOptions<T>) {
    this.#source = source;
    this.#logger = options.logger;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#transform = options.transform ?? stripManagedFields;
    this.#synced = new Promise<void>((resolve, reject) => {
      this.#resolveSynced = resolve;
      this.#rejectSynced = reject;
    });
    // Nobody may be waiting when stop() rejects it.
    this.#synced.catch(() => {});
  }

  get description(): string {
    return this.#source.description;
  }

  /** Settles after the first complete list; rejects if the informer is stopped before that. */
  get synced(): Promise<void> {
    return this.#synced;
  }

  hasSynced(): boolean {
    return this.#hasSynced;
  }

  /** Grows by one for every change to the cache. */
  get version(): number {
    return this.#version;
  }

  /** Why the last list or watch failed ('' when none has). */
  get lastError(): string {
    return this.#lastError;
  }

  /** All cached objects; the same array until the next change. */
  list(): readonly T[] {
    if (this.#listed?.version !== this.#version) {
      this.#listed = { version: this.#version, items: [...this.#objects.values()] };
    }
    return this.#listed.items;
  }

  /** The cached object by `namespace/name` (cluster-scoped: `name`). */
  get(key: string): T | undefined {
    return this.#objects.get(key);
  }

  /** Calls `listener` for every change; returns the unsubscribe function. */
  onChange(listener: (change: InformerChange<T>) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  start(): void {
    this.#running ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    if (!this.#hasSynced) {
      this.#rejectSynced(new Error(`${this.description} stopped before its first list`));
    }
    await this.#running;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let resourceVersion = '';
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (resourceVersion === '') {
          const page = await this.#source.list(signal);
          this.#replace(page.items);
          resourceVersion = page.resourceVersion;
          this.#markSynced();
        }
        let events = 0;
        const began = Date.now();
        await this.#source.watch(
          resourceVersion,
          (type, object) => {
            events++;
            resourceVersion = this.#apply(type, object as T) ?? resourceVersion;
          },
          signal,
        );
        if (events > 0) failures = 0;
        // A watch the server ends at once, again and again, must not spin.
        else if (Date.now() - began < 1000) await sleep(this.#backoff.initialMs, signal);
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof ResourceGoneError) {
          this.#logger.debug({ resource: this.description }, 'watch too old; listing again');
          resourceVersion = '';
          continue;
        }
        this.#lastError = errorText(error);
        const delay = Math.min(this.#backoff.maxMs, this.#backoff.initialMs * 2 ** failures);
        failures++;
        this.#logger.warn(
          { resource: this.description, err: this.#lastError, retryInMs: delay },
          `${this.description} cannot be listed or watched; retrying`,
        );
        await sleep(delay * (0.8 + 0.4 * Math.random()), signal);
      }
    }
  }

  #markSynced(): void {
    if (this.#hasSynced) return;
    this.#hasSynced = true;
    this.#lastError = '';
    this.#resolveSynced();
  }

  /** Applies one watch event; returns the resourceVersion it carries. */
  #apply(type: string, raw: T): string | undefined {
    const rv = raw.metadata?.resourceVersion;
    if (type === 'BOOKMARK') return rv;
    if (type === 'DELETED') {
      const key = objectKey(raw);
      const old = this.#objects.get(key);
      if (old !== undefined) {
        this.#objects.delete(key);
        this.#emit('deleted', old);
      }
      return rv;
    }
    if (type === 'ADDED' || type === 'MODIFIED') this.#upsert(this.#transform(raw));
    return rv;
  }

  #upsert(object: T): void {
    const key = objectKey(object);
    const old = this.#objects.get(key);
    if (old !== undefined && old.metadata?.resourceVersion === object.metadata?.resourceVersion)
      return;
    this.#objects.set(key, object);
    this.#emit(old === undefined ? 'added' : 'updated', object);
  }

  /** A fresh list replaces the cache: objects gone from it are deleted. */
  #replace(items: readonly T[]): void {
    const seen = new Set<string>();
    for (const item of items) {
      const object = this.#transform(item);
      seen.add(objectKey(object));
      this.#upsert(object);
    }
    for (const [key, old] of [...this.#objects]) {
      if (seen.has(key)) continue;
      this.#objects.delete(key);
      this.#emit('deleted', old);
    }
  }

  #emit(type: ChangeType, object: T): void {
    this.#version++;
    for (const listener of this.#listeners) {
      try {
        listener({ type, object });
      } catch (error) {
        this.#logger.error(
          { resource: this.description, err: error },
          'informer listener threw; continuing',
        );
      }
    }
  }
}

// ---- discovery of the optional PodGroup APIs --------------------------------------------------

/** PodGroup APIs the planner reads when the server has them, in order of preference per group. */
export const POD_GROUP_APIS: readonly { group: string; versions: readonly string[] }[] = [
  // Native gang scheduling (1.35 v1alpha1 Workload, 1.36 v1alpha2, 1.37 v1alpha3 and v1beta1).
  { group: 'scheduling.k8s.io', versions: ['v1', 'v1beta1', 'v1alpha3', 'v1alpha2', 'v1alpha1'] },
  // scheduler-plugins coscheduling.
  { group: 'scheduling.x-k8s.io', versions: ['v1', 'v1beta1', 'v1alpha2', 'v1alpha1'] },
];

interface ApiResourceList {
  resources?: { name?: string }[];
}

interface ApiGroupList {
  groups?: { name?: string; versions?: { version?: string }[] }[];
}

async function servesPodGroups(
  client: KubeClient,
  group: string,
  version: string,
): Promise<boolean> {
  try {
    const list = await client.request<ApiResourceList>('GET', `/apis/${group}/${version}`);
    return (list.resources ?? []).some((r) => r.name === 'podgroups');
  } catch (error) {
    if (error instanceof KubeApiError && error.notFound) return false;
    throw error;
  }
}

/**
 * The PodGroup resources this server serves, at most one per API group: the most stable served
 * version that has `podgroups` (discovery, so 1.36's v1alpha2 and 1.37's v1alpha3/v1beta1 both work).
 */
export async function discoverPodGroupResources(client: KubeClient): Promise<ResourceType[]> {
  const groups = await client.request<ApiGroupList>('GET', '/apis');
  const found: ResourceType[] = [];
  for (const api of POD_GROUP_APIS) {
    const served = new Set(
      (groups.groups ?? [])
        .find((g) => g.name === api.group)
        ?.versions?.map((v) => v.version ?? '') ?? [],
    );
    for (const version of api.versions) {
      if (!served.has(version)) continue;
      if (await servesPodGroups(client, api.group, version)) {
        found.push({ group: api.group, version, plural: 'podgroups' });
        break;
      }
    }
  }
  return found;
}

// ---- the scheduler side's caches --------------------------------------------------------------

interface NamespaceObject extends KubeObject {
  metadata?: KubeObject['metadata'] & { labels?: Record<string, string> };
}

type Cached<T> = T & KubeObject;

/**
 * List page sizes (objects per request) of the compacted caches, about 0.5 MB of JSON each. A page
 * exists as received until its objects are compacted; a bigger one outlives young-generation
 * collections, moves to V8's old generation, and the pages V8 then keeps stay in the process's
 * RSS. Measured with 5,000 8-GPU nodes (bench/scheduler-memory.ts): slices in pages of 500 left
 * the process at about 600 MiB, 100 at about 310 MiB, 10 at about 245 MiB (205 MiB with
 * `--max-semi-space-size=8`). The price is more list requests: 2,000 for 20,000 slices.
 */
export const COMPACTED_PAGE_SIZE = { resourceslices: 10, nodes: 50 } as const;

function compactedPageSize(r: ResourceType): number {
  return r.plural === 'nodes' ? COMPACTED_PAGE_SIZE.nodes : COMPACTED_PAGE_SIZE.resourceslices;
}

export interface ClusterInformersOptions {
  readonly logger: Logger;
  /** PodGroup resources to watch (see {@link discoverPodGroupResources}). */
  readonly podGroups?: readonly ResourceType[];
  readonly backoff?: BackoffOptions;
  /**
   * Keep only what the scheduler side reads of ResourceSlices and Nodes, with identical parts of
   * slices shared (slice-compaction.ts, node-compaction.ts); default true. False keeps them as
   * received (less managedFields), for measuring what compaction saves.
   */
  readonly compact?: boolean;
  /**
   * Source factory; the API server by default (tests pass fakes). `transform` is the cache's own
   * transform, for sources that can apply it early (see {@link ApiListWatchOptions.transform}).
   */
  readonly source?: <T extends KubeObject>(
    resource: ResourceType,
    transform?: (object: T) => T,
  ) => ListWatchSource<T>;
}

/**
 * One informer per resource the scheduler side reads, and the {@link ClusterObjects} built from
 * them. The snapshot is rebuilt only when a cache changed since the last call.
 */
export class ClusterInformers {
  readonly pods: Informer<Cached<PodObject>>;
  readonly nodes: Informer<Cached<NodeObject>>;
  readonly namespaces: Informer<NamespaceObject>;
  readonly slices: Informer<Cached<ResourceSlice>>;
  readonly claims: Informer<Cached<ResourceClaim>>;
  readonly templates: Informer<Cached<ClaimTemplateObject>>;
  readonly queues: Informer<KubeObject>;
  readonly deviceClasses: Informer<Cached<DeviceClassObject>>;
  readonly podGroups: readonly Informer<Cached<PodGroupObject>>[];
  readonly #podGroupResources: readonly ResourceType[];
  readonly #sliceCompactor: SliceCompactor;
  /** Every cache with its resource's plural, in start order. */
  readonly #named: readonly (readonly [string, Informer<KubeObject>])[];
  readonly #all: readonly Informer<KubeObject>[];
  #snapshot: { stamp: number; objects: ClusterObjects } | undefined;
  #namespaceLabels: { version: number; map: Map<string, Readonly<Record<string, string>>> } = {
    version: -1,
    map: new Map(),
  };

  constructor(client: KubeClient | undefined, options: ClusterInformersOptions) {
    const source =
      options.source ??
      (<T extends KubeObject>(r: ResourceType, transform?: (o: T) => T): ListWatchSource<T> => {
        if (client === undefined) throw new Error('ClusterInformers needs a client or a source');
        if (transform === undefined) return new ApiListWatch<T>(client, r);
        return new ApiListWatch<T>(client, r, { transform, pageSize: compactedPageSize(r) });
      });
    const compactor = new SliceCompactor();
    this.#sliceCompactor = compactor;
    const make = <T extends KubeObject>(r: ResourceType, transform?: (o: T) => T): Informer<T> =>
      new Informer<T>(source<T>(r, transform), {
        logger: options.logger,
        ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
        ...(transform === undefined ? {} : { transform }),
      });
    this.pods = make(RESOURCES.pods);
    const compact = options.compact !== false;
    const nodeCompactor = new NodeCompactor();
    this.nodes = make<Cached<NodeObject>>(
      RESOURCES.nodes,
      compact ? (node) => nodeCompactor.compact(node) : undefined,
    );
    this.namespaces = make(RESOURCES.namespaces);
    this.slices = make<Cached<ResourceSlice>>(
      RESOURCES.resourceSlices,
      compact ? (slice) => compactor.compact(slice) as Cached<ResourceSlice> : undefined,
    );
    this.claims = make(RESOURCES.resourceClaims);
    this.templates = make(RESOURCES.resourceClaimTemplates);
    this.queues = make(RESOURCES.queues);
    this.deviceClasses = make(RESOURCES.deviceClasses);
    this.#podGroupResources = options.podGroups ?? [];
    this.podGroups = this.#podGroupResources.map((r) => make<Cached<PodGroupObject>>(r));
    this.#named = [
      ['pods', this.pods],
      ['nodes', this.nodes],
      ['namespaces', this.namespaces],
      ['resourceslices', this.slices],
      ['resourceclaims', this.claims],
      ['resourceclaimtemplates', this.templates],
      ['queues', this.queues],
      ['deviceclasses', this.deviceClasses],
      ...this.podGroups.map((i) => ['podgroups', i]),
    ] as [string, Informer<KubeObject>][];
    this.#all = this.#named.map(([, informer]) => informer);
  }

  /** How well the ResourceSlice cache shares identical parts (see slice-compaction.ts). */
  sliceInternStats(): InternStats {
    return this.#sliceCompactor.stats();
  }

  get informers(): readonly Informer<KubeObject>[] {
    return this.#all;
  }

  start(): void {
    for (const informer of this.#all) informer.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.#all.map((i) => i.stop()));
  }

  hasSynced(): boolean {
    return this.#all.every((i) => i.hasSynced());
  }

  /** Resolves when every cache has listed; rejects with a sentence naming the laggards after `timeoutMs`. */
  async waitForSync(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const pending = this.#all
          .filter((i) => !i.hasSynced())
          .map((i) => (i.lastError === '' ? i.description : `${i.description} (${i.lastError})`));
        reject(
          new Error(
            `the API server caches did not sync within ${Math.round(timeoutMs / 1000)} s: ${pending.join('; ')}; check the API server address and RBAC`,
          ),
        );
      }, timeoutMs);
    });
    try {
      await Promise.race([Promise.all(this.#all.map((i) => i.synced)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Calls `listener` after any cache changed; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    const offs = this.#all.map((i) => i.onChange(() => listener()));
    return () => {
      for (const off of offs) off();
    };
  }

  /**
   * Calls `listener` with each change and the cache it happened in (`pods`, `nodes`,
   * `resourceslices`, …, the resource's plural); returns the unsubscribe function.
   */
  onEachChange(
    listener: (resource: string, change: InformerChange<KubeObject>) => void,
  ): () => void {
    const offs = this.#named.map(([resource, i]) =>
      i.onChange((change) => listener(resource, change)),
    );
    return () => {
      for (const off of offs) off();
    };
  }

  /** Sum of the caches' versions: changes whenever any cache changes. */
  get version(): number {
    let v = 0;
    for (const informer of this.#all) v += informer.version;
    return v;
  }

  /** A cached PodGroup's apiVersion (lists leave it out of items) and uid. */
  podGroup(namespace: string, name: string): { apiVersion: string; uid?: string } | undefined {
    for (const [i, informer] of this.podGroups.entries()) {
      const group = informer.get(`${namespace}/${name}`);
      const resource = this.#podGroupResources[i];
      if (group === undefined || resource === undefined) continue;
      const uid = group.metadata?.uid;
      const apiVersion = apiVersionOf(resource);
      return uid === undefined ? { apiVersion } : { apiVersion, uid };
    }
    return undefined;
  }

  /** The core's input, rebuilt only when a cache changed since the last call. */
  snapshot(): ClusterObjects {
    const stamp = this.version;
    if (this.#snapshot?.stamp === stamp) return this.#snapshot.objects;
    const objects: ClusterObjects = {
      nodes: this.nodes.list(),
      slices: this.slices.list(),
      claims: this.claims.list(),
      templates: this.templates.list(),
      pods: this.pods.list(),
      namespaces: this.#labelsByNamespace(),
      podGroups: this.podGroups.flatMap((i) => i.list()),
      queues: this.queues.list(),
      deviceClasses: this.deviceClasses.list(),
    };
    this.#snapshot = { stamp, objects };
    return objects;
  }

  #labelsByNamespace(): Map<string, Readonly<Record<string, string>>> {
    if (this.#namespaceLabels.version !== this.namespaces.version) {
      const map = new Map<string, Readonly<Record<string, string>>>();
      for (const ns of this.namespaces.list()) {
        map.set(ns.metadata?.name ?? '', ns.metadata?.labels ?? {});
      }
      this.#namespaceLabels = { version: this.namespaces.version, map };
    }
    return this.#namespaceLabels.map;
  }
}
