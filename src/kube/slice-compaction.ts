/**
 * Compact ResourceSlices for the scheduler side's cache.
 *
 * A 5,000-node cluster of 8-GPU nodes with every partition placement publishes 760,000 devices;
 * kept as received that is about 1 GB of heap, while the core reads a handful of fields. The
 * {@link SliceCompactor} is the ResourceSlice informer's transform: it keeps exactly what the
 * snapshot (scheduling/snapshot.ts) reads and what the informer needs, drops the rest, and
 * interns identical sub-objects across slices, so the nodes of one GPU profile share one
 * `devices` array, one `sharedCounters` array and their parts.
 *
 * Kept, for slices of our driver:
 * - `metadata.name`, `uid`, `resourceVersion` (the informer's key and change check);
 * - `spec.driver`, `spec.pool` (`name`, `generation`, `resourceSliceCount`);
 * - `spec.sharedCounters` (`name`, `counters[*].value`);
 * - per device: `name`, its attributes — the identity ones ({@link IDENTITY_ATTRIBUTES}:
 *   `uuid`, `parentUUID`, `nvlinkDomain`, `cliqueId`, which name one device, node or rack and
 *   would stop the nodes of a profile from sharing their devices) with their value blanked to
 *   `""`, so only their presence is kept — and `capacity` values (CEL selectors read both), `consumesCounters` (`counterSet`, `counters[*].value`) and `taints`
 *   (`key`, `effect`).
 * Slices of other drivers keep only metadata, `spec.driver` and `spec.pool`: the core skips them.
 * Dropped: labels, ownerReferences, managedFields, `spec.nodeName`, every other attribute
 * (the identity attributes' values), taint values and times.
 *
 * The result is plain JSON of the same shape, so the snapshot cannot tell a compacted slice from
 * a full one. Shared objects are frozen: a consumer that tried to modify one would otherwise
 * change every node of the profile at once.
 *
 * Interning is keyed by the JSON text of the compacted sub-object, in the order its keys were
 * built (maps keep the order they arrived in, since the snapshot numbers counters in that order),
 * through a table bounded in entries and in key characters; the least recently used entries go
 * first. An evicted entry only stops being shared with objects that arrive later.
 */
import type {
  Counter,
  CounterSet,
  Device,
  DeviceAttribute,
  DeviceCounterConsumption,
  DeviceTaint,
  ObjectMeta,
  ResourceSlice,
} from '../api/resource/v1.ts';
import { IDENTITY_ATTRIBUTES } from '../scheduling/devices.ts';
import { DRIVER } from '../scheduling/snapshot.ts';

/** Device attributes whose values the cache blanks: short names, in the driver's domain or qualified. */
export const BLANKED_ATTRIBUTES: readonly string[] = IDENTITY_ATTRIBUTES;

export interface InternTableLimits {
  /** Most entries kept. */
  readonly maxEntries: number;
  /** Most characters of keys kept, summed over the entries. */
  readonly maxKeyChars: number;
}

export const DEFAULT_INTERN_LIMITS: InternTableLimits = {
  maxEntries: 10_000,
  maxKeyChars: 2 ** 20,
};

export interface InternStats {
  readonly entries: number;
  readonly keyChars: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
}

/**
 * Canonical copies of JSON values, keyed by their JSON text, bounded by {@link InternTableLimits}
 * (least recently used out first). Values are never modified after they are stored.
 */
export class InternTable {
  readonly #limits: InternTableLimits;
  readonly #entries = new Map<string, object>();
  #keyChars = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(limits: Partial<InternTableLimits> = {}) {
    this.#limits = { ...DEFAULT_INTERN_LIMITS, ...limits };
  }

  /**
   * The stored value for `key`, or the one `build` makes (then stored). `build` runs only on a
   * miss, so callers intern the parts of a value only when the whole is new.
   */
  get<T extends object>(key: string, build: () => T): T {
    const known = this.#entries.get(key);
    if (known !== undefined) {
      this.#hits++;
      // Most recently used last: re-insert.
      this.#entries.delete(key);
      this.#entries.set(key, known);
      return known as T;
    }
    this.#misses++;
    const value = build();
    if (key.length > this.#limits.maxKeyChars) return value;
    this.#entries.set(key, value);
    this.#keyChars += key.length;
    this.#evict();
    return value;
  }

  stats(): InternStats {
    return {
      entries: this.#entries.size,
      keyChars: this.#keyChars,
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
    };
  }

  #evict(): void {
    while (
      this.#entries.size > this.#limits.maxEntries ||
      this.#keyChars > this.#limits.maxKeyChars
    ) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) return;
      this.#entries.delete(oldest.value);
      this.#keyChars -= oldest.value.length;
      this.#evictions++;
    }
  }
}

export interface SliceCompactorOptions {
  /** The driver whose slices keep their devices and counters (default gpu.phalanx.dev). */
  readonly driver?: string;
  /** Device attributes whose values are blanked (default {@link BLANKED_ATTRIBUTES}). */
  readonly blankAttributes?: readonly string[];
  readonly limits?: Partial<InternTableLimits>;
}

type CounterMap = Record<string, Counter>;

/** Same keys, in the same order, each with only `value`. */
function counterMap(counters: Readonly<CounterMap>): CounterMap {
  const out: CounterMap = {};
  for (const [name, c] of Object.entries(counters)) out[name] = { value: c.value };
  return out;
}

/** The one member of an attribute value that is set. */
function attributeValue(a: DeviceAttribute): DeviceAttribute {
  if (a.int !== undefined) return { int: a.int };
  if (a.string !== undefined) return { string: a.string };
  if (a.bool !== undefined) return { bool: a.bool };
  if (a.version !== undefined) return { version: a.version };
  return {};
}

/** The value an identity attribute keeps in the cache: present, value unknown. */
const BLANK: DeviceAttribute = Object.freeze({ string: '' });

function freeze<T extends object>(value: T): T {
  return Object.freeze(value) as T;
}

/**
 * The ResourceSlice informer's transform (see the module comment). One instance per cache: its
 * table holds the canonical copies. `compact` is idempotent and returns its own results as they
 * are, so a list that was compacted page by page can pass through the informer's transform again.
 */
export class SliceCompactor {
  readonly #driver: string;
  readonly #blank: ReadonlySet<string>;
  readonly #table: InternTable;
  readonly #produced = new WeakSet<object>();

  constructor(options: SliceCompactorOptions = {}) {
    this.#driver = options.driver ?? DRIVER;
    const blank = options.blankAttributes ?? BLANKED_ATTRIBUTES;
    this.#blank = new Set([...blank, ...blank.map((a) => `${this.#driver}/${a}`)]);
    this.#table = new InternTable(options.limits);
  }

  stats(): InternStats {
    return this.#table.stats();
  }

  compact(slice: ResourceSlice): ResourceSlice {
    if (this.#produced.has(slice)) return slice;
    const spec = slice.spec;
    const pool = {
      name: spec.pool.name,
      generation: spec.pool.generation,
      resourceSliceCount: spec.pool.resourceSliceCount,
    };
    const ours = spec.driver === this.#driver;
    const out: ResourceSlice = {
      metadata: this.#metadata(slice.metadata),
      spec: { driver: ours ? this.#driver : spec.driver, pool },
    };
    if (ours && spec.devices !== undefined) out.spec.devices = this.#devices(spec.devices);
    if (ours && spec.sharedCounters !== undefined) {
      out.spec.sharedCounters = this.#sharedCounters(spec.sharedCounters);
    }
    this.#produced.add(out);
    return out;
  }

  #metadata(m: ObjectMeta): ObjectMeta {
    const out: ObjectMeta = {};
    if (m.name !== undefined) out.name = m.name;
    if (m.uid !== undefined) out.uid = m.uid;
    if (m.resourceVersion !== undefined) out.resourceVersion = m.resourceVersion;
    return out;
  }

  // ---- building the compacted (not yet shared) form ----

  #device(d: Device): Device {
    const out: Device = { name: d.name };
    const attributes: Record<string, DeviceAttribute> = {};
    let kept = 0;
    for (const [name, a] of Object.entries(d.attributes ?? {})) {
      attributes[name] = this.#blank.has(name) ? BLANK : attributeValue(a);
      kept++;
    }
    if (kept > 0) out.attributes = attributes;
    if (d.capacity !== undefined) {
      out.capacity = {};
      for (const [name, c] of Object.entries(d.capacity)) out.capacity[name] = { value: c.value };
    }
    if (d.consumesCounters !== undefined) {
      out.consumesCounters = d.consumesCounters.map((use) => ({
        counterSet: use.counterSet,
        counters: counterMap(use.counters),
      }));
    }
    if (d.taints !== undefined) {
      out.taints = d.taints.map((t) => ({ key: t.key, effect: t.effect }));
    }
    return out;
  }

  #devices(list: readonly Device[]): Device[] {
    const compact = list.map((d) => this.#device(d));
    return this.#table.get(JSON.stringify(compact), () =>
      freeze(compact.map((d) => this.#sharedDevice(d))),
    );
  }

  #sharedCounters(sets: readonly CounterSet[]): CounterSet[] {
    const compact = sets.map((s) => ({ name: s.name, counters: counterMap(s.counters) }));
    return this.#table.get(JSON.stringify(compact), () =>
      freeze(
        compact.map((s) =>
          this.#shared(s, () =>
            freeze({ name: s.name, counters: this.#sharedCounterMap(s.counters) }),
          ),
        ),
      ),
    );
  }

  // ---- interning the parts of a new compacted value ----

  /** The canonical copy of `value`; `build` makes it (from shared parts) on a miss. */
  #shared<T extends object>(value: T, build: () => T): T {
    return this.#table.get(JSON.stringify(value), build);
  }

  #sharedDevice(d: Device): Device {
    return this.#shared(d, () => {
      const out: Device = { name: d.name };
      if (d.attributes !== undefined) out.attributes = this.#sharedAttributes(d.attributes);
      if (d.capacity !== undefined) {
        out.capacity = this.#shared(d.capacity, () => freeze({ ...d.capacity }));
      }
      if (d.consumesCounters !== undefined) {
        out.consumesCounters = this.#sharedConsumption(d.consumesCounters);
      }
      if (d.taints !== undefined) out.taints = this.#sharedTaints(d.taints);
      return freeze(out);
    });
  }

  #sharedAttributes(
    attributes: Readonly<Record<string, DeviceAttribute>>,
  ): Record<string, DeviceAttribute> {
    return this.#shared(attributes, () => {
      const out: Record<string, DeviceAttribute> = {};
      for (const [name, a] of Object.entries(attributes)) {
        out[name] = this.#shared(a, () => freeze({ ...a }));
      }
      return freeze(out);
    });
  }

  #sharedConsumption(uses: readonly DeviceCounterConsumption[]): DeviceCounterConsumption[] {
    return this.#shared(uses as DeviceCounterConsumption[], () =>
      freeze(
        uses.map((use) =>
          this.#shared(use, () =>
            freeze({ counterSet: use.counterSet, counters: this.#sharedCounterMap(use.counters) }),
          ),
        ),
      ),
    );
  }

  #sharedCounterMap(counters: Readonly<CounterMap>): CounterMap {
    return this.#shared(counters as CounterMap, () => {
      const out: CounterMap = {};
      for (const [name, c] of Object.entries(counters)) {
        out[name] = this.#shared(c, () => freeze({ value: c.value }));
      }
      return freeze(out);
    });
  }

  #sharedTaints(taints: readonly DeviceTaint[]): DeviceTaint[] {
    return this.#shared(taints as DeviceTaint[], () =>
      freeze(taints.map((t) => this.#shared(t, () => freeze({ ...t })))),
    );
  }
}
