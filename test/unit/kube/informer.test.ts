/**
 * The list+watch cache: against a scripted source (relist on 410, backoff on errors, change
 * events, memoised lists) and against a small fake API server over HTTP (pagination, the watch
 * stream through client-node, ERROR events, discovery).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ApiListWatch,
  ClusterInformers,
  discoverPodGroupResources,
  Informer,
  type InformerChange,
  type KubeObject,
  type ListPage,
  type ListWatchSource,
  ResourceGoneError,
  type ResourceType,
  stripManagedFields,
} from '../../../src/kube/informer.ts';
import { KubeClient } from '../../../src/kube/rest.ts';
import { silentLogger } from '../../../src/observability/logger.ts';

interface Obj extends KubeObject {
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion: string;
    labels?: Record<string, string>;
  };
  data?: string;
}

const obj = (name: string, rv: number, data?: string, namespace = 'ns'): Obj => ({
  metadata: { name, namespace, resourceVersion: String(rv) },
  ...(data === undefined ? {} : { data }),
});

type WatchStep =
  | { events: [string, unknown][]; end: 'close' }
  | { events: [string, unknown][]; end: 'error'; error: Error }
  | { events: [string, unknown][]; end: 'hang' };

/** A source that answers lists and watches from scripts, recording what was asked. */
class ScriptedSource implements ListWatchSource<Obj> {
  readonly description = 'things.v1';
  readonly lists: ListPage<Obj>[] = [];
  readonly watches: WatchStep[] = [];
  readonly listErrors: Error[] = [];
  readonly watchedFrom: string[] = [];
  listCalls = 0;

  async list(): Promise<ListPage<Obj>> {
    this.listCalls++;
    const error = this.listErrors.shift();
    if (error !== undefined) throw error;
    const page = this.lists.shift();
    if (page === undefined) throw new Error('no list scripted');
    return page;
  }

  watch(
    rv: string,
    onEvent: (type: string, object: unknown) => void,
    signal: AbortSignal,
  ): Promise<void> {
    this.watchedFrom.push(rv);
    const step = this.watches.shift() ?? { events: [], end: 'hang' };
    for (const [type, o] of step.events) onEvent(type, o);
    if (step.end === 'close') return Promise.resolve();
    if (step.end === 'error') return Promise.reject(step.error);
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve()));
  }
}

const informers: Informer<Obj>[] = [];
function informer(source: ScriptedSource): Informer<Obj> {
  const i = new Informer<Obj>(source, {
    logger: silentLogger(),
    backoff: { initialMs: 5, maxMs: 20 },
  });
  informers.push(i);
  return i;
}

async function until(check: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

afterEach(async () => {
  await Promise.all(informers.splice(0).map((i) => i.stop()));
});

describe('Informer over a scripted source', () => {
  it('lists, reports synced, then applies watch events in order', async () => {
    const src = new ScriptedSource();
    src.lists.push({ items: [obj('a', 1), obj('b', 2)], resourceVersion: '10' });
    src.watches.push({
      events: [
        ['ADDED', obj('c', 11)],
        ['MODIFIED', obj('a', 12, 'changed')],
        ['DELETED', obj('b', 13)],
        ['BOOKMARK', { metadata: { resourceVersion: '14' } }],
      ],
      end: 'close',
    });
    const i = informer(src);
    const changes: string[] = [];
    i.onChange((ch: InformerChange<Obj>) => changes.push(`${ch.type} ${ch.object.metadata.name}`));
    i.start();
    await i.synced;
    expect(i.hasSynced()).toBe(true);
    await until(() => src.watchedFrom.length >= 2, 'the second watch');
    expect(src.watchedFrom.slice(0, 2)).toEqual(['10', '14']);
    expect(changes).toEqual(['added a', 'added b', 'added c', 'updated a', 'deleted b']);
    expect(i.get('ns/a')?.data).toBe('changed');
    expect(i.get('ns/b')).toBeUndefined();
    expect(
      i
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['a', 'c']);
  });

  it('hands out the same list array until something changes', async () => {
    const src = new ScriptedSource();
    src.lists.push({ items: [obj('a', 1)], resourceVersion: '1' });
    src.watches.push({ events: [], end: 'hang' });
    const i = informer(src);
    i.start();
    await i.synced;
    const first = i.list();
    expect(i.list()).toBe(first);
    const v = i.version;
    // The same resourceVersion again is not a change.
    expect(i.version).toBe(v);
  });

  it('lists again after 410 Gone and deletes what the new list no longer has', async () => {
    const src = new ScriptedSource();
    src.lists.push({ items: [obj('a', 1), obj('b', 1)], resourceVersion: '5' });
    src.watches.push({ events: [], end: 'error', error: new ResourceGoneError('too old') });
    src.lists.push({ items: [obj('a', 1), obj('c', 7)], resourceVersion: '9' });
    const i = informer(src);
    const deleted: string[] = [];
    i.onChange((ch) => {
      if (ch.type === 'deleted') deleted.push(ch.object.metadata.name);
    });
    i.start();
    await until(() => src.watchedFrom.includes('9'), 'the watch after the relist');
    expect(src.listCalls).toBe(2);
    expect(deleted).toEqual(['b']);
    expect(
      i
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['a', 'c']);
  });

  it('reconnects from the last resourceVersion after an error, with backoff, and keeps the cache', async () => {
    const src = new ScriptedSource();
    src.listErrors.push(new Error('connection refused'));
    src.lists.push({ items: [obj('a', 1)], resourceVersion: '3' });
    src.watches.push({ events: [['ADDED', obj('b', 4)]], end: 'error', error: new Error('reset') });
    src.watches.push({ events: [], end: 'error', error: new Error('reset again') });
    const i = informer(src);
    i.start();
    await i.synced;
    await until(() => src.watchedFrom.length >= 3, 'two reconnects');
    expect(src.watchedFrom.slice(0, 3)).toEqual(['3', '4', '4']);
    expect(src.listCalls).toBe(2);
    expect(i.get('ns/b')).toBeDefined();
    expect(i.lastError).toBe('reset again');
  });

  it('drops managedFields from stored objects', async () => {
    const src = new ScriptedSource();
    const heavy = { ...obj('a', 1), metadata: { ...obj('a', 1).metadata, managedFields: [{}] } };
    src.lists.push({ items: [heavy], resourceVersion: '1' });
    const i = informer(src);
    i.start();
    await i.synced;
    expect(i.get('ns/a')?.metadata).not.toHaveProperty('managedFields');
    expect(stripManagedFields(obj('x', 1))).toEqual(obj('x', 1));
  });

  it('rejects synced when stopped before the first list', async () => {
    const src = new ScriptedSource();
    src.listErrors.push(new Error('down'), new Error('down'), new Error('down'));
    const i = informer(src);
    i.start();
    await i.stop();
    await expect(i.synced).rejects.toThrow(/things.v1 stopped before its first list/);
  });

  it('survives a listener that throws', async () => {
    const src = new ScriptedSource();
    src.lists.push({ items: [obj('a', 1)], resourceVersion: '1' });
    const i = informer(src);
    const seen: string[] = [];
    i.onChange(() => {
      throw new Error('bad listener');
    });
    i.onChange((ch) => seen.push(ch.object.metadata.name));
    i.start();
    await i.synced;
    expect(seen).toEqual(['a']);
  });
});

describe('ClusterInformers', () => {
  function scripted(items: Record<string, Obj[]>) {
    const made = new Map<string, ScriptedSource>();
    const source = <T extends KubeObject>(r: ResourceType): ListWatchSource<T> => {
      const s = new ScriptedSource();
      s.lists.push({ items: items[r.plural] ?? [], resourceVersion: '1' });
      made.set(r.plural, s);
      return s as unknown as ListWatchSource<T>;
    };
    return { made, source };
  }

  it('builds the core input once per change and maps namespace labels', async () => {
    const ns = {
      metadata: { name: 'team', resourceVersion: '1', labels: { 'phalanx.dev/queue': 'q1' } },
    };
    const { made, source } = scripted({
      pods: [obj('p', 1)],
      namespaces: [ns as Obj],
      podgroups: [obj('g', 1)],
    });
    const ci = new ClusterInformers(undefined, {
      logger: silentLogger(),
      source,
      podGroups: [{ group: 'scheduling.k8s.io', version: 'v1alpha2', plural: 'podgroups' }],
    });
    let changes = 0;
    ci.onChange(() => changes++);
    ci.start();
    await ci.waitForSync(2000);
    expect(ci.hasSynced()).toBe(true);
    const a = ci.snapshot();
    expect(ci.snapshot()).toBe(a);
    expect(a.pods).toHaveLength(1);
    expect(a.podGroups).toHaveLength(1);
    expect(a.namespaces.get('team')).toEqual({ 'phalanx.dev/queue': 'q1' });
    expect(ci.podGroup('ns', 'g')).toEqual({ apiVersion: 'scheduling.k8s.io/v1alpha2' });
    expect(ci.podGroup('ns', 'nope')).toBeUndefined();
    expect(changes).toBe(3);
    expect(a.deviceClasses).toEqual([]);
    expect(made.size).toBe(9);
    await ci.stop();
  });

  it('names the caches that did not sync, with their last error', async () => {
    const source = <T extends KubeObject>(r: ResourceType): ListWatchSource<T> => {
      const s = new ScriptedSource();
      if (r.plural === 'queues') {
        s.listErrors.push(...Array.from({ length: 50 }, () => new Error('403 Forbidden')));
      } else s.lists.push({ items: [], resourceVersion: '1' });
      return s as unknown as ListWatchSource<T>;
    };
    const ci = new ClusterInformers(undefined, {
      logger: silentLogger(),
      source,
      backoff: { initialMs: 5, maxMs: 5 },
    });
    ci.start();
    await expect(ci.waitForSync(150)).rejects.toThrow(
      /did not sync within 0 s: things.v1 \(403 Forbidden\); check the API server address and RBAC/,
    );
    await ci.stop();
  });
});

// ---- a fake API server over HTTP ----------------------------------------------------------------

interface FakeApi {
  readonly client: KubeClient;
  readonly requests: string[];
  /** Lines to stream to the next watch, then end the response. */
  watchLines: string[][];
  close(): Promise<void>;
}

async function fakeApi(
  handler: (url: URL, res: http.ServerResponse) => boolean,
  watchLines: string[][] = [],
): Promise<FakeApi> {
  const requests: string[] = [];
  const api: { watchLines: string[][] } = { watchLines };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const lines = api.watchLines.shift();
      if (lines === undefined) return; // keep it open
      for (const line of lines) res.write(`${line}\n`);
      res.end();
      return;
    }
    if (!handler(url, res)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code: 404, reason: 'NotFound', message: 'nope' }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'c', cluster: 'fake', user: 'u' }],
    currentContext: 'c',
  });
  return {
    client: new KubeClient(kc),
    requests,
    get watchLines() {
      return api.watchLines;
    },
    set watchLines(v) {
      api.watchLines = v;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function json(res: http.ServerResponse, body: unknown): true {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
  return true;
}

describe('ApiListWatch against an HTTP API server', () => {
  const pods: ResourceType = { group: '', version: 'v1', plural: 'pods' };
  let api: FakeApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it('follows list pages, streams watch events and turns an ERROR 410 into ResourceGoneError', async () => {
    api = await fakeApi(
      (url, res) => {
        if (url.pathname !== '/api/v1/pods') return false;
        const page = url.searchParams.get('continue');
        return page === null
          ? json(res, { items: [obj('a', 1)], metadata: { continue: 'p2', resourceVersion: '5' } })
          : json(res, { items: [obj('b', 2)], metadata: { resourceVersion: '6' } });
      },
      [
        [
          JSON.stringify({ type: 'ADDED', object: obj('c', 7) }),
          JSON.stringify({
            type: 'ERROR',
            object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' },
          }),
        ],
      ],
    );
    const source = new ApiListWatch<Obj>(api.client, pods, { pageSize: 1, watchTimeoutSeconds: 5 });
    const page = await source.list(new AbortController().signal);
    expect(page.items.map((o) => o.metadata.name)).toEqual(['a', 'b']);
    expect(page.resourceVersion).toBe('6');
    const events: string[] = [];
    await expect(
      source.watch(
        '6',
        (t, o) => events.push(`${t} ${(o as Obj).metadata.name}`),
        new AbortController().signal,
      ),
    ).rejects.toBeInstanceOf(ResourceGoneError);
    expect(events).toEqual(['ADDED c']);
    const watch = api.requests.find((r) => r.includes('watch=true')) ?? '';
    expect(watch).toMatch(/resourceVersion=6/);
    expect(watch).toMatch(/allowWatchBookmarks=true/);
    expect(api.requests.filter((r) => r.includes('limit=1'))).toHaveLength(2);
  });

  it('resolves when the server ends the watch and stops on abort', async () => {
    api = await fakeApi(() => false, [[JSON.stringify({ type: 'ADDED', object: obj('c', 7) })]]);
    const source = new ApiListWatch<Obj>(api.client, pods, { namespace: 'team' });
    expect(source.description).toBe('pods.v1 in team');
    await expect(
      source.watch('1', () => {}, new AbortController().signal),
    ).resolves.toBeUndefined();
    const abort = new AbortController();
    const hanging = source.watch('2', () => {}, abort.signal);
    setTimeout(() => abort.abort(), 20);
    await expect(hanging).resolves.toBeUndefined();
    expect(api.requests.at(-1)).toMatch(/^GET \/api\/v1\/namespaces\/team\/pods\?watch=true/);
  });

  it('keeps an Informer in step with the server', async () => {
    api = await fakeApi(
      (url, res) =>
        url.pathname === '/api/v1/pods' &&
        json(res, { items: [obj('a', 1)], metadata: { resourceVersion: '1' } }),
      [[JSON.stringify({ type: 'MODIFIED', object: obj('a', 2, 'new') })]],
    );
    const i = new Informer<Obj>(new ApiListWatch<Obj>(api.client, pods), {
      logger: silentLogger(),
    });
    informers.push(i);
    i.start();
    await i.synced;
    await until(() => i.get('ns/a')?.data === 'new', 'the watched update');
  });

  it('discovers the most stable served PodGroup version per group', async () => {
    api = await fakeApi((url, res) => {
      if (url.pathname === '/apis')
        return json(res, {
          groups: [
            { name: 'scheduling.k8s.io', versions: [{ version: 'v1' }, { version: 'v1alpha2' }] },
            { name: 'scheduling.x-k8s.io', versions: [{ version: 'v1alpha1' }] },
          ],
        });
      if (url.pathname === '/apis/scheduling.k8s.io/v1')
        return json(res, { resources: [{ name: 'priorityclasses' }] });
      if (url.pathname === '/apis/scheduling.k8s.io/v1alpha2')
        return json(res, { resources: [{ name: 'workloads' }, { name: 'podgroups' }] });
      return false;
    });
    expect(await discoverPodGroupResources(api.client)).toEqual([
      { group: 'scheduling.k8s.io', version: 'v1alpha2', plural: 'podgroups' },
    ]);
  });
});
