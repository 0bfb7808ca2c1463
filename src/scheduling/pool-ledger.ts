/**
 * Capacity ledger of one ResourceSlice pool, counted the way the DRA allocator counts it: a
 * device is allocatable when no claim holds it and every counter it consumes still has enough
 * left in its counter set. Only the pool's highest generation counts, and a pool is incomplete
 * until all `resourceSliceCount` slices of that generation are present.
 *
 * Pure: no I/O.
 */
import { formatBytes, parseQuantity } from '../api/resource/quantity.ts';
import type { Device, DeviceAttribute, ResourceSlice } from '../api/resource/v1.ts';

export interface LedgerDevice {
  readonly name: string;
  readonly sliceName: string;
  readonly attributes: Readonly<Record<string, DeviceAttribute>>;
  readonly consumes: readonly {
    readonly counterSet: string;
    readonly counters: ReadonlyMap<string, number>;
  }[];
  readonly tainted: boolean;
}

export class PoolLedgerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoolLedgerError';
  }
}

/** Byte-like amounts read better as `70Gi` than as 75161927680. */
function amount(value: number): string {
  return Number.isSafeInteger(value) && value >= 1024 && value % 1024 === 0
    ? formatBytes(value)
    : String(value);
}

function quantity(value: string, what: string): number {
  const parsed = parseQuantity(value);
  if (parsed === undefined) throw new PoolLedgerError(`${what}: "${value}" is not a quantity`);
  return parsed;
}

function toLedgerDevice(device: Device, sliceName: string): LedgerDevice {
  return {
    name: device.name,
    sliceName,
    attributes: device.attributes ?? {},
    consumes: (device.consumesCounters ?? []).map((c) => ({
      counterSet: c.counterSet,
      counters: new Map(
        Object.entries(c.counters).map(([name, v]) => [
          name,
          quantity(v.value, `${device.name} ${c.counterSet}/${name}`),
        ]),
      ),
    })),
    tainted: (device.taints ?? []).some(
      (t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute',
    ),
  };
}

export class PoolLedger {
  readonly pool: string;
  readonly generation: number;
  readonly #devices: LedgerDevice[];
  readonly #byName: Map<string, LedgerDevice>;
  /** Remaining amount per `<counterSet>/<counter>`. */
  readonly #remaining = new Map<string, number>();
  readonly #allocated = new Set<string>();

  private constructor(pool: string, generation: number, slices: readonly ResourceSlice[]) {
    this.pool = pool;
    this.generation = generation;
    const ordered = [...slices].sort((a, b) =>
      (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''),
    );
    this.#devices = ordered.flatMap((s) =>
      (s.spec.devices ?? []).map((d) => toLedgerDevice(d, s.metadata.name ?? '')),
    );
    this.#byName = new Map(this.#devices.map((d) => [d.name, d]));
    for (const slice of ordered) {
      for (const set of slice.spec.sharedCounters ?? []) {
        for (const [counter, value] of Object.entries(set.counters)) {
          this.#remaining.set(
            `${set.name}/${counter}`,
            quantity(value.value, `${set.name}/${counter}`),
          );
        }
      }
    }
  }

  /** Builds the ledger from every slice of one pool (other generations are ignored). */
  static fromSlices(slices: readonly ResourceSlice[]): PoolLedger {
    const first = slices[0];
    if (first === undefined) throw new PoolLedgerError('no ResourceSlices given');
    const pool = first.spec.pool.name;
    const generation = Math.max(...slices.map((s) => s.spec.pool.generation));
    const current = slices.filter(
      (s) => s.spec.pool.name === pool && s.spec.pool.generation === generation,
    );
    const expected = current[0]?.spec.pool.resourceSliceCount ?? 0;
    if (current.length !== expected) {
      throw new PoolLedgerError(
        `pool ${pool} generation ${generation} is incomplete: ${current.length} of ${expected} slices present`,
      );
    }
    return new PoolLedger(pool, generation, current);
  }

  /** Devices in allocation order (slice name, then position in the slice). */
  devices(): readonly LedgerDevice[] {
    return this.#devices;
  }

  device(name: string): LedgerDevice | undefined {
    return this.#byName.get(name);
  }

  isAllocated(name: string): boolean {
    return this.#allocated.has(name);
  }

  remaining(counterSet: string, counter: string): number | undefined {
    return this.#remaining.get(`${counterSet}/${counter}`);
  }

  /** undefined when the device can be allocated now, else a short reason. */
  whyNot(name: string): string | undefined {
    const device = this.#byName.get(name);
    if (device === undefined) return `device ${name} is not in pool ${this.pool}`;
    if (this.#allocated.has(name)) return `device ${name} is already allocated`;
    if (device.tainted) return `device ${name} is tainted`;
    for (const use of device.consumes) {
      for (const [counter, need] of use.counters) {
        const left = this.#remaining.get(`${use.counterSet}/${counter}`);
        if (left === undefined)
          return `device ${name} consumes unknown counter ${use.counterSet}/${counter}`;
        if (left < need)
          return `counter ${use.counterSet}/${counter} has ${amount(left)} left, device ${name} needs ${amount(need)}`;
      }
    }
    return undefined;
  }

  allocate(name: string): void {
    const reason = this.whyNot(name);
    if (reason !== undefined) throw new PoolLedgerError(reason);
    const device = this.#byName.get(name);
    for (const use of device?.consumes ?? []) {
      for (const [counter, amount] of use.counters) {
        const key = `${use.counterSet}/${counter}`;
        this.#remaining.set(key, (this.#remaining.get(key) ?? 0) - amount);
      }
    }
    this.#allocated.add(name);
  }

  release(name: string): void {
    if (!this.#allocated.delete(name)) return;
    const device = this.#byName.get(name);
    for (const use of device?.consumes ?? []) {
      for (const [counter, amount] of use.counters) {
        const key = `${use.counterSet}/${counter}`;
        this.#remaining.set(key, (this.#remaining.get(key) ?? 0) + amount);
      }
    }
  }

  /** First-fit: the first `count` allocatable devices matching `accept`, in allocation order. */
  firstFit(count: number, accept: (device: LedgerDevice) => boolean): string[] | undefined {
    const picked: string[] = [];
    for (const device of this.#devices) {
      if (picked.length === count) break;
      if (!accept(device) || this.whyNot(device.name) !== undefined) continue;
      this.allocate(device.name);
      picked.push(device.name);
    }
    if (picked.length === count) return picked;
    for (const name of picked) this.release(name);
    return undefined;
  }
}
