/**
 * The native workload of `phalanx simulate`: a cluster (topology spec or openb node list), queues
 * (the Queue spec, validated and defaulted by the same code as the Queue CRD) and gangs, listed
 * one by one or made by seeded generators. See docs/simulator-workloads.md for the format.
 *
 * Every mistake is reported at once, each naming its path: `gangs[3].pods: must be a positive
 * integer, got 0`.
 *
 * Pure: no I/O (the caller passes the text and a reader for node lists the file names).
 */
import { parse as parseYaml } from 'yaml';
import { decodeQueue, type Queue, validateQueue } from '../api/scheduling/v1alpha1/queue.ts';
import type { NodeSpec } from '../scheduling/cluster.ts';
import { CLUSTER_LEVEL } from '../scheduling/gang.ts';
import { MILLI_PER_GPU, type PodShape } from '../scheduling/node-view.ts';
import { DEFAULT_LEVELS, NODE_LEVEL } from '../scheduling/topology.ts';
import { type NodeListReader, readCluster } from './cluster-spec.ts';
import { child, FieldReader, type Fields, got, isRecord } from './fields.ts';
import { type Random, seededRandom } from './random.ts';

/** One gang as the simulator runs it: `pods` identical pods of `shape`. */
export interface SimGang {
  readonly id: string;
  readonly queue: string | undefined;
  readonly priority: number;
  /** Arrival time, seconds from the start of the run. */
  readonly arrival: number;
  /** Seconds the gang runs once all its pods are placed. */
  readonly runtime: number;
  readonly pods: number;
  readonly shape: PodShape;
  /** Topology level all pods must share (`rack`, `block`…). */
  readonly required: string | undefined;
  /** Topology level all pods should share. */
  readonly preferred: string | undefined;
}

export interface GangWorkload {
  readonly name: string;
  readonly description: string;
  /**
   * Set when the gangs were made up over a real trace (the gang overlay): every output shows it
   * next to the trace name.
   */
  readonly synthetic: string | undefined;
  readonly seed: number;
  readonly nodes: readonly NodeSpec[];
  readonly queues: readonly Queue[];
  /** In arrival order (ties in the order the file lists them). */
  readonly gangs: readonly SimGang[];
}

export class WorkloadError extends Error {
  readonly errors: readonly string[];
  constructor(file: string, errors: readonly string[]) {
    const shown = errors.slice(0, 20).join('\n  ');
    const more = errors.length > 20 ? `\n  … and ${errors.length - 20} more` : '';
    super(`${file}: ${errors.length} problem${errors.length === 1 ? '' : 's'}:\n  ${shown}${more}`);
    this.name = 'WorkloadError';
    this.errors = errors;
  }
}

const GiB = 2 ** 30;
export const DEFAULT_POD_CPU_MILLI = 1000;
export const DEFAULT_POD_MEMORY_BYTES = 4 * GiB;
/** Most gangs one file may make (listed plus generated). */
export const MAX_GANGS = 200_000;
export const MAX_PODS_PER_GANG = 4096;
/** Topology level names a gang may name. */
export const LEVEL_NAMES: readonly string[] = [
  ...DEFAULT_LEVELS.map((l) => l.name),
  NODE_LEVEL,
  CLUSTER_LEVEL,
];

const ROOT_FIELDS = ['name', 'description', 'seed', 'cluster', 'queues', 'gangs', 'generators'];
const QUEUE_FIELDS = ['name', 'cohort', 'priority', 'weight', 'quotas', 'preemption'];
const SHAPE_FIELDS = ['gpusPerPod', 'gpuMilli', 'gpuModels', 'cpu', 'memory', 'topology'];
const GANG_FIELDS = ['name', 'queue', 'priority', 'arrival', 'runtime', 'pods', ...SHAPE_FIELDS];
const GENERATOR_FIELDS = [...GANG_FIELDS, 'count'];
const NAME = /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/;
const NAME_RULE = 'a DNS label (lowercase letters, digits, - and ., at most 63)';

// ---- weighted choices ------------------------------------------------------------------------------

/** A fixed value, or values with relative weights drawn at random. */
export interface Choice<T> {
  readonly values: readonly T[];
  readonly weights: readonly number[];
}

export function draw<T>(choice: Choice<T>, random: Random): T {
  if (choice.values.length === 1) return choice.values[0] as T;
  const total = choice.weights.reduce((a, b) => a + b, 0);
  let u = random.next() * total;
  for (let i = 0; i < choice.values.length; i++) {
    u -= choice.weights[i] ?? 0;
    if (u < 0) return choice.values[i] as T;
  }
  return choice.values[choice.values.length - 1] as T;
}

function readChoice<T>(
  r: FieldReader,
  path: string,
  value: unknown,
  readKey: (key: string, path: string) => T | undefined,
  readOne: (v: unknown) => T | undefined,
): Choice<T> | undefined {
  if (!isRecord(value)) {
    const one = readOne(value);
    return one === undefined ? undefined : { values: [one], weights: [1] };
  }
  const values: T[] = [];
  const weights: number[] = [];
  for (const [key, weight] of Object.entries(value)) {
    const v = readKey(key, child(path, key));
    const w = r.number(child(path, key), weight, { min: 0, exclusiveMin: true });
    if (v === undefined || w === undefined) continue;
    values.push(v);
    weights.push(w);
  }
  if (Object.keys(value).length === 0) r.add(path, 'must list at least one value with its weight');
  return values.length === Object.keys(value).length ? { values, weights } : undefined;
}

const POSITIVE_INT = { integer: true, min: 0, exclusiveMin: true } as const;

function readCountChoice(r: FieldReader, path: string, value: unknown, max: number) {
  const rule = { ...POSITIVE_INT, max };
  return readChoice(
    r,
    path,
    value,
    (key, p) => r.number(p, /^\d+$/.test(key) ? Number(key) : key, rule),
    (v) => r.number(path, v, rule),
  );
}

// ---- queues ----------------------------------------------------------------------------------------

function readQueue(r: FieldReader, path: string, value: unknown): Queue | undefined {
  const q = r.object(path, value);
  if (q === undefined) return undefined;
  r.unknown(path, q, QUEUE_FIELDS);
  const { name, ...spec } = q;
  const obj = {
    apiVersion: 'scheduling.phalanx.dev/v1alpha1',
    kind: 'Queue',
    metadata: { name },
    spec: Object.fromEntries(Object.entries(spec).filter(([k]) => QUEUE_FIELDS.includes(k))),
  };
  const errors = validateQueue(obj);
  for (const e of errors) {
    const at = e.replace(/^metadata\.name/, 'name').replace(/^spec\./, '');
    r.errors.push(`${path}.${at}`);
  }
  return errors.length === 0 ? decodeQueue(obj) : undefined;
}

function readQueues(r: FieldReader, value: unknown): Queue[] {
  if (value === undefined) return [];
  const list = r.list('queues', value) ?? [];
  const queues: Queue[] = [];
  const names = new Set<string>();
  list.forEach((q, i) => {
    const name = isRecord(q) && typeof q.name === 'string' ? q.name : undefined;
    if (name !== undefined && names.has(name)) {
      r.add(`queues[${i}].name`, `queue ${name} is listed twice`);
      return;
    }
    if (name !== undefined) names.add(name);
    const queue = readQueue(r, `queues[${i}]`, q);
    if (queue !== undefined) queues.push(queue);
  });
  return queues;
}

// ---- pod shape and topology ------------------------------------------------------------------------

interface ShapeSpec {
  readonly gpusPerPod: Choice<number>;
  readonly gpuMilli: number;
  readonly gpuModels: readonly string[];
  readonly cpuMilli: number;
  readonly memoryBytes: number;
  readonly required: string | undefined;
  readonly preferred: string | undefined;
}

function readLevel(r: FieldReader, path: string, value: unknown): string | undefined {
  if (typeof value === 'string' && LEVEL_NAMES.includes(value)) return value;
  r.add(path, `must be a topology level (${LEVEL_NAMES.join(', ')}), got ${got(value)}`);
  return undefined;
}

function readTopology(r: FieldReader, path: string, value: unknown) {
  if (value === undefined) return { required: undefined, preferred: undefined };
  const t = r.object(path, value);
  if (t === undefined) return undefined;
  r.unknown(path, t, ['required', 'preferred']);
  const required = r.optional(t.required, (v) => readLevel(r, child(path, 'required'), v));
  const preferred = r.optional(t.preferred, (v) => readLevel(r, child(path, 'preferred'), v));
  return { required, preferred };
}

function readModels(r: FieldReader, path: string, value: unknown): string[] | undefined {
  if (value === undefined) return [];
  const list = r.list(path, value);
  if (list === undefined) return undefined;
  const models = list.map((m, i) => r.string(`${path}[${i}]`, m));
  return models.every((m) => m !== undefined) ? (models as string[]) : undefined;
}

function readShape(r: FieldReader, path: string, g: Fields): ShapeSpec | undefined {
  const gpusPerPod = readCountChoice(r, child(path, 'gpusPerPod'), g.gpusPerPod ?? 1, 64);
  const gpuMilli = r.number(child(path, 'gpuMilli'), g.gpuMilli ?? MILLI_PER_GPU, {
    integer: true,
    min: 0,
    max: MILLI_PER_GPU,
  });
  const gpuModels = readModels(r, child(path, 'gpuModels'), g.gpuModels);
  const cpu = r.optional(g.cpu, (v) => r.quantity(child(path, 'cpu'), v, '4 or 500m'));
  const memory = r.optional(g.memory, (v) => r.quantity(child(path, 'memory'), v, '64Gi'));
  const topology = readTopology(r, child(path, 'topology'), g.topology);
  if (
    gpuMilli !== undefined &&
    gpuMilli < MILLI_PER_GPU &&
    gpusPerPod?.values.some((n) => n !== 1)
  ) {
    r.add(
      child(path, 'gpuMilli'),
      `a share of a GPU (${gpuMilli}, below ${MILLI_PER_GPU}) needs gpusPerPod 1`,
    );
    return undefined;
  }
  if (gpusPerPod === undefined || gpuMilli === undefined || gpuModels === undefined)
    return undefined;
  if (topology === undefined) return undefined;
  return {
    gpusPerPod,
    gpuMilli,
    gpuModels,
    cpuMilli: cpu === undefined ? DEFAULT_POD_CPU_MILLI : Math.round(cpu * 1000),
    memoryBytes: memory === undefined ? DEFAULT_POD_MEMORY_BYTES : Math.round(memory),
    ...topology,
  };
}

function shapeOf(spec: ShapeSpec, gpus: number): PodShape {
  const none = gpus === 0 || spec.gpuMilli === 0;
  return {
    cpuMilli: spec.cpuMilli,
    memoryBytes: spec.memoryBytes,
    gpuCount: none ? 0 : gpus,
    gpuMilli: none ? 0 : spec.gpuMilli,
    gpuModels: none ? [] : spec.gpuModels,
  };
}

// ---- gangs and generators --------------------------------------------------------------------------

interface CommonSpec {
  readonly name: string;
  readonly queue: Choice<string> | undefined;
  readonly priority: number;
  readonly pods: Choice<number>;
  readonly runtime: { readonly min: number; readonly max: number };
  readonly shape: ShapeSpec;
}

function readQueueChoice(r: FieldReader, path: string, value: unknown, queues: readonly Queue[]) {
  const known = (name: string, p: string) => {
    if (queues.some((q) => q.metadata.name === name)) return name;
    r.add(p, `queue ${JSON.stringify(name)} is not defined under queues`);
    return undefined;
  };
  return readChoice(r, path, value, known, (v) => {
    const name = r.string(path, v);
    return name === undefined ? undefined : known(name, path);
  });
}

function readRuntime(r: FieldReader, path: string, value: unknown) {
  const rule = { min: 0, exclusiveMin: true };
  if (!isRecord(value)) {
    const s = r.number(path, value, rule);
    return s === undefined ? undefined : { min: s, max: s };
  }
  r.unknown(path, value, ['min', 'max']);
  const min = r.number(child(path, 'min'), value.min, rule);
  const max = r.number(child(path, 'max'), value.max, rule);
  if (min === undefined || max === undefined) return undefined;
  if (max < min) r.add(path, `max (${max}) is below min (${min})`);
  return max < min ? undefined : { min, max };
}

function readCommon(
  r: FieldReader,
  path: string,
  g: Fields,
  queues: readonly Queue[],
): CommonSpec | undefined {
  const name = r.string(child(path, 'name'), g.name, NAME, NAME_RULE);
  const queue = r.optional(g.queue, (v) => readQueueChoice(r, child(path, 'queue'), v, queues));
  const priority = r.number(child(path, 'priority'), g.priority ?? 0, { integer: true });
  const pods = readCountChoice(r, child(path, 'pods'), g.pods, MAX_PODS_PER_GANG);
  const runtime = readRuntime(r, child(path, 'runtime'), g.runtime);
  const shape = readShape(r, path, g);
  if (g.queue !== undefined && queue === undefined) return undefined;
  if (name === undefined || priority === undefined || pods === undefined) return undefined;
  if (runtime === undefined || shape === undefined) return undefined;
  return { name, queue, priority, pods, runtime, shape };
}

/** Runtime drawn log-uniformly between min and max (fixed when they are equal). */
function drawRuntime(spec: CommonSpec, random: Random): number {
  const { min, max } = spec.runtime;
  if (min === max) return min;
  return Math.round(Math.exp(Math.log(min) + random.next() * (Math.log(max) - Math.log(min))));
}

function makeGang(spec: CommonSpec, id: string, arrival: number, random: Random): SimGang {
  return {
    id,
    queue: spec.queue === undefined ? undefined : draw(spec.queue, random),
    priority: spec.priority,
    arrival,
    runtime: drawRuntime(spec, random),
    pods: draw(spec.pods, random),
    shape: shapeOf(spec.shape, draw(spec.shape.gpusPerPod, random)),
    required: spec.shape.required,
    preferred: spec.shape.preferred,
  };
}

function readGang(
  r: FieldReader,
  path: string,
  value: unknown,
  queues: readonly Queue[],
  random: Random,
) {
  const g = r.object(path, value);
  if (g === undefined) return undefined;
  r.unknown(path, g, GANG_FIELDS);
  const spec = readCommon(r, path, g, queues);
  const arrival = r.number(child(path, 'arrival'), g.arrival ?? 0, { min: 0 });
  if (spec === undefined || arrival === undefined) return undefined;
  return makeGang(spec, spec.name, arrival, random);
}

function readArrivals(r: FieldReader, path: string, value: unknown) {
  if (!isRecord(value)) {
    const at = r.number(path, value ?? 0, { min: 0 });
    return at === undefined ? undefined : { start: at, every: 0 };
  }
  r.unknown(path, value, ['start', 'every']);
  const start = r.number(child(path, 'start'), value.start ?? 0, { min: 0 });
  const every = r.number(child(path, 'every'), value.every, { min: 0 });
  return start === undefined || every === undefined ? undefined : { start, every };
}

/** `count` gangs `<name>-<i>`; arrivals `every` seconds apart on average (exponential gaps). */
function readGenerator(
  r: FieldReader,
  path: string,
  value: unknown,
  queues: readonly Queue[],
  random: Random,
): SimGang[] {
  const g = r.object(path, value);
  if (g === undefined) return [];
  r.unknown(path, g, GENERATOR_FIELDS);
  const spec = readCommon(r, path, g, queues);
  const count = r.number(child(path, 'count'), g.count, { ...POSITIVE_INT, max: MAX_GANGS });
  const arrivals = readArrivals(r, child(path, 'arrival'), g.arrival);
  if (spec === undefined || count === undefined || arrivals === undefined) return [];
  const out: SimGang[] = [];
  let t = arrivals.start;
  for (let i = 0; i < count; i++) {
    if (i > 0 && arrivals.every > 0) t += -Math.log(1 - random.next()) * arrivals.every;
    out.push(makeGang(spec, `${spec.name}-${i}`, Math.round(t * 1000) / 1000, random));
  }
  return out;
}

function checkUnique(r: FieldReader, gangs: readonly SimGang[], declared: number): void {
  const seen = new Set<string>();
  for (const g of gangs) {
    if (seen.has(g.id)) r.add('gangs', `gang name ${g.id} is used twice; names must be unique`);
    seen.add(g.id);
  }
  if (gangs.length > MAX_GANGS) r.add('gangs', `${gangs.length} gangs; at most ${MAX_GANGS}`);
  if (declared === 0) r.add('gangs', 'the workload has no gangs; list gangs or generators');
}

export interface ParseOptions {
  /** Reads an openb node list the cluster names (path as written in the file). */
  readonly readNodes: NodeListReader;
  /** Overrides the file's seed. */
  readonly seed?: number;
}

function readDocument(text: string, file: string): Fields {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new WorkloadError(file, [
      `not valid YAML or JSON: ${error instanceof Error ? error.message : error}`,
    ]);
  }
  if (!isRecord(doc))
    throw new WorkloadError(file, [`must be a mapping at the top, got ${got(doc)}`]);
  return doc;
}

/** Parses a workload (YAML or JSON text); throws a WorkloadError listing every problem. */
export function parseWorkload(text: string, file: string, options: ParseOptions): GangWorkload {
  const doc = readDocument(text, file);
  const r = new FieldReader();
  r.unknown('', doc, ROOT_FIELDS);
  const name = r.string('name', doc.name ?? 'workload');
  const description = doc.description ?? '';
  if (typeof description !== 'string')
    r.add('description', `must be a string, got ${got(description)}`);
  const seed = options.seed ?? r.number('seed', doc.seed ?? 1, { integer: true, min: 0 }) ?? 1;
  const nodes = readCluster(r, 'cluster', doc.cluster, options.readNodes);
  const queues = readQueues(r, doc.queues);
  const random = seededRandom(seed);
  const listed = r.optional(doc.gangs, (v) => r.list('gangs', v)) ?? [];
  const gangs = listed.flatMap((g, i) => readGang(r, `gangs[${i}]`, g, queues, random) ?? []);
  const generators = r.optional(doc.generators, (v) => r.list('generators', v)) ?? [];
  generators.forEach((g, i) => {
    gangs.push(...readGenerator(r, `generators[${i}]`, g, queues, random));
  });
  checkUnique(r, gangs, listed.length + generators.length);
  if (r.errors.length > 0 || nodes === undefined || name === undefined) {
    throw new WorkloadError(file, r.errors);
  }
  const order = new Map(gangs.map((g, i) => [g.id, i]));
  gangs.sort((a, b) => a.arrival - b.arrival || (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  return {
    name,
    description: typeof description === 'string' ? description.trim() : '',
    synthetic: undefined,
    seed,
    nodes,
    queues,
    gangs,
  };
}
