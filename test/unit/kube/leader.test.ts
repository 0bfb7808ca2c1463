/**
 * Lease election with short durations against an in-memory lease store that enforces
 * resourceVersion like the API server: one leader at a time, release on stop, takeover after a
 * holder dies only once its record went unchanged for a lease duration, step-down when renewals
 * fail past the deadline.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  ApiLeaseStore,
  LeaderElector,
  type Lease,
  type LeaseStore,
} from '../../../src/kube/leader.ts';
import { KubeApiError, type RequestOptions } from '../../../src/kube/rest.ts';
import { silentLogger } from '../../../src/observability/logger.ts';

class MemoryLeaseStore implements LeaseStore {
  readonly namespace = 'ns';
  readonly name = 'planner';
  readonly description = 'lease ns/planner';
  lease: Lease | undefined;
  down = false;
  #rv = 0;

  #check(): void {
    if (this.down) throw new KubeApiError('GET', '/leases', 0, 'Unreachable', 'connection refused');
  }

  async get(): Promise<Lease | undefined> {
    this.#check();
    return this.lease === undefined ? undefined : structuredClone(this.lease);
  }

  async create(lease: Lease): Promise<Lease> {
    this.#check();
    if (this.lease !== undefined)
      throw new KubeApiError('POST', '/leases', 409, 'AlreadyExists', 'exists');
    this.lease = {
      ...structuredClone(lease),
      metadata: { ...lease.metadata, resourceVersion: String(++this.#rv) },
    };
    return structuredClone(this.lease);
  }

  async update(lease: Lease): Promise<Lease> {
    this.#check();
    if (lease.metadata.resourceVersion !== this.lease?.metadata.resourceVersion) {
      throw new KubeApiError(
        'PUT',
        '/leases/planner',
        409,
        'Conflict',
        'the object has been modified',
      );
    }
    this.lease = {
      ...structuredClone(lease),
      metadata: { ...lease.metadata, resourceVersion: String(++this.#rv) },
    };
    return structuredClone(this.lease);
  }
}

const electors: LeaderElector[] = [];

function elector(store: LeaseStore, identity: string, log: string[]): LeaderElector {
  const e = new LeaderElector({
    store,
    identity,
    logger: silentLogger(),
    leaseDurationMs: 300,
    renewDeadlineMs: 200,
    retryPeriodMs: 40,
    onStartedLeading: () => log.push(`${identity} started`),
    onStoppedLeading: () => {
      log.push(`${identity} stopped`);
    },
  });
  electors.push(e);
  return e;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, ms = 3000): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
  return Date.now() - start;
}

afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop()));
});

describe('LeaderElector', () => {
  it('elects exactly one of two candidates and records the holder', async () => {
    const store = new MemoryLeaseStore();
    const log: string[] = [];
    const a = elector(store, 'a', log);
    const b = elector(store, 'b', log);
    a.start();
    b.start();
    await until(() => a.isLeader() || b.isLeader(), 'a leader');
    await sleep(200);
    expect([a.isLeader(), b.isLeader()].filter(Boolean)).toHaveLength(1);
    const leader = a.isLeader() ? 'a' : 'b';
    expect(store.lease?.spec?.holderIdentity).toBe(leader);
    expect(store.lease?.spec?.leaseDurationSeconds).toBe(1);
    expect(log).toEqual([`${leader} started`]);
  });

  it('hands over at once when the leader stops (the lease is released)', async () => {
    const store = new MemoryLeaseStore();
    const log: string[] = [];
    const a = elector(store, 'a', log);
    a.start();
    await until(() => a.isLeader(), 'a leading');
    const b = elector(store, 'b', log);
    b.start();
    await sleep(100);
    expect(b.isLeader()).toBe(false);
    await a.stop();
    expect(store.lease?.spec?.holderIdentity).toBe('');
    const took = await until(() => b.isLeader(), 'b leading');
    expect(took).toBeLessThan(250);
    expect(store.lease?.spec?.leaseTransitions).toBe(1);
    expect(log).toEqual(['a started', 'a stopped', 'b started']);
  });

  it('releases the lease only after the stopped-leading work finished', async () => {
    const store = new MemoryLeaseStore();
    let holderWhileStopping = '';
    const a = new LeaderElector({
      store,
      identity: 'a',
      logger: silentLogger(),
      leaseDurationMs: 300,
      renewDeadlineMs: 200,
      retryPeriodMs: 40,
      onStartedLeading: () => {},
      onStoppedLeading: async () => {
        await sleep(50);
        holderWhileStopping = store.lease?.spec?.holderIdentity ?? '';
      },
    });
    electors.push(a);
    a.start();
    await until(() => a.isLeader(), 'a leading');
    await a.stop();
    expect(holderWhileStopping).toBe('a');
    expect(store.lease?.spec?.holderIdentity).toBe('');
  });

  it('takes over from a dead holder only after its record stood still for a lease duration', async () => {
    const store = new MemoryLeaseStore();
    store.lease = {
      metadata: { namespace: 'ns', name: 'planner', resourceVersion: '0' },
      spec: {
        holderIdentity: 'dead',
        leaseDurationSeconds: 1,
        renewTime: '2020-01-01T00:00:00.000000Z',
      },
    };
    const log: string[] = [];
    const b = elector(store, 'b', log);
    const started = Date.now();
    b.start();
    await until(() => b.isLeader(), 'b leading');
    // The stale renewTime from another clock does not count; b waits a lease duration by its own.
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  }, 5000);

  it('steps down when it cannot renew within the deadline, and leads again when the store is back', async () => {
    const store = new MemoryLeaseStore();
    const log: string[] = [];
    const a = elector(store, 'a', log);
    a.start();
    await until(() => a.isLeader(), 'a leading');
    store.down = true;
    const lost = await until(() => !a.isLeader(), 'a stepping down');
    expect(lost).toBeGreaterThanOrEqual(150);
    store.down = false;
    await until(() => a.isLeader(), 'a leading again');
    expect(log).toEqual(['a started', 'a stopped', 'a started']);
  });

  it('refuses durations that cannot work', () => {
    expect(
      () =>
        new LeaderElector({
          store: new MemoryLeaseStore(),
          identity: 'x',
          logger: silentLogger(),
          leaseDurationMs: 1000,
          renewDeadlineMs: 2000,
          onStartedLeading: () => {},
          onStoppedLeading: () => {},
        }),
    ).toThrow(/lease duration > renew deadline > retry period/);
  });
});

describe('ApiLeaseStore', () => {
  it('reads, creates and updates the Lease at its coordination.k8s.io path', async () => {
    const calls: string[] = [];
    const client = {
      async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
        calls.push(`${method} ${path} ${JSON.stringify(options.body ?? null)}`);
        if (method === 'GET') throw new KubeApiError(method, path, 404, 'NotFound', 'not found');
        return (options.body ?? {}) as T;
      },
    };
    const store = new ApiLeaseStore(client, 'phalanx-system', 'phalanx-planner');
    expect(await store.get()).toBeUndefined();
    const lease: Lease = {
      metadata: { namespace: 'phalanx-system', name: 'phalanx-planner' },
      spec: { holderIdentity: 'me' },
    };
    await store.create(lease);
    await store.update(lease);
    expect(calls[0]).toMatch(
      /^GET \/apis\/coordination.k8s.io\/v1\/namespaces\/phalanx-system\/leases\/phalanx-planner /,
    );
    expect(calls[1]).toMatch(
      /^POST \/apis\/coordination.k8s.io\/v1\/namespaces\/phalanx-system\/leases \{"apiVersion":"coordination.k8s.io\/v1","kind":"Lease"/,
    );
    expect(calls[2]).toMatch(
      /^PUT \/apis\/coordination.k8s.io\/v1\/namespaces\/phalanx-system\/leases\/phalanx-planner /,
    );
  });
});
