/**
 * The kube-scheduler extender wire format (`k8s.io/kube-scheduler/extender/v1`): types with
 * upstream's exact keys, decoders for what the scheduler sends, encoders for what it reads back.
 *
 * Upstream's structs carry no json tags, so the keys are the Go field names (PascalCase) and nil
 * pointers, maps and slices travel as `null`. The scheduler decodes with Go's `encoding/json`,
 * which matches keys without regard to case; the decoders here do the same (the last of several
 * case variants wins, as in Go) and treat `null` like an absent field. Objects nested in the
 * payload (v1.Pod, v1.NodeList) keep their Kubernetes camelCase keys. Encoders always write exact
 * PascalCase, reply in the node-cache mode the call came in, and never leave the expected field
 * `null`.
 *
 * Pure: no I/O.
 */
import {
  ExtenderInputError,
  type ExtenderPod,
  type HostScore,
  type MetaVictimsIn,
  type NodeInput,
} from './decider.ts';

// ---- wire types (exact upstream keys) ----------------------------------------------------------

/** A v1.NodeList as the extender reads and writes it (other keys are ignored). */
export interface NodeList {
  items: unknown[];
}

export interface ExtenderArgs {
  Pod: unknown;
  /** Full nodes; set only when the extender is not node-cache-capable. */
  Nodes: NodeList | null;
  /** Node names; set only when the extender is node-cache-capable. */
  NodeNames: string[] | null;
}

export interface ExtenderFilterResult {
  Nodes: NodeList | null;
  NodeNames: string[] | null;
  FailedNodes: Record<string, string>;
  FailedAndUnresolvableNodes: Record<string, string>;
  Error: string;
}

export interface HostPriority {
  Host: string;
  Score: number;
}

export type HostPriorityList = HostPriority[];

export interface MetaPod {
  UID: string;
}

export interface MetaVictims {
  Pods: MetaPod[];
  NumPDBViolations: number;
}

export interface Victims {
  Pods: unknown[];
  NumPDBViolations: number;
}

export interface ExtenderPreemptionArgs {
  Pod: unknown;
  NodeNameToVictims: Record<string, Victims> | null;
  NodeNameToMetaVictims: Record<string, MetaVictims> | null;
}

export interface ExtenderPreemptionResult {
  NodeNameToMetaVictims: Record<string, MetaVictims>;
}

/** The body of every non-200 reply. */
export interface ExtenderErrorReply {
  Error: string;
}

/** `MinExtenderPriority` and `MaxExtenderPriority` upstream. */
export const MIN_EXTENDER_PRIORITY = 0;
export const MAX_EXTENDER_PRIORITY = 10;

/** `cache`: names only (`nodeCacheCapable: true`); `full`: whole v1.Node objects. */
export type NodeCacheMode = 'cache' | 'full';

// ---- generic decoding helpers -----------------------------------------------------------------

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The value of `name` in `obj`, matched as Go's encoding/json matches struct fields: exact or
 * case-insensitive, the last matching key winning. `null` and absent both come back undefined.
 */
export function wireField(obj: JsonObject, name: string): unknown {
  const lower = name.toLowerCase();
  let value: unknown;
  for (const key of Object.keys(obj)) {
    if (key === name || (key.length === name.length && key.toLowerCase() === lower))
      value = obj[key];
  }
  return value === null ? undefined : value;
}

function fail(message: string): never {
  throw new ExtenderInputError(message);
}

/** `NodeNameToVictims["n1"]`: map keys quoted as JSON strings so odd names stay readable. */
function keyPath(path: string, key: string): string {
  return `${path}[${JSON.stringify(key)}]`;
}

function requiredObject(value: unknown, path: string, what: string): JsonObject {
  if (value === undefined) fail(`${path} is missing`);
  if (!isObject(value)) fail(`${path} is not an object (${what})`);
  return value;
}

function requiredString(obj: JsonObject, name: string, path: string): string {
  const value = wireField(obj, name);
  if (value === undefined || value === '') fail(`${path}.${name} is missing`);
  if (typeof value !== 'string') fail(`${path}.${name} is not a string`);
  return value;
}

/** A map[string]string; `null` (or absent) is empty, a `null` value is "" (as in Go). */
function stringMap(value: unknown, path: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isObject(value)) fail(`${path} is not an object of strings`);
  let copy = false;
  for (const [key, v] of Object.entries(value)) {
    if (v === null) copy = true;
    else if (typeof v !== 'string') fail(`${keyPath(path, key)} is not a string`);
  }
  if (!copy) return value as Record<string, string>;
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value))
    Object.defineProperty(out, key, {
      value: typeof v === 'string' ? v : '',
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return out;
}

/** An int64 field; `null` or absent is 0. */
function integerField(obj: JsonObject, name: string, path: string): number {
  const value = wireField(obj, name);
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    fail(`${path}.${name} is not an integer`);
  return value;
}

function arrayField(obj: JsonObject, name: string, path: string): unknown[] {
  const value = wireField(obj, name);
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(`${path}.${name} is not an array`);
  return value;
}

// ---- pods and nodes ---------------------------------------------------------------------------

/** Decodes a v1.Pod far enough for the decider; `raw` keeps the whole object. */
export function decodePod(value: unknown, path = 'Pod'): ExtenderPod {
  const pod = requiredObject(value, path, 'a v1.Pod');
  const meta = requiredObject(wireField(pod, 'metadata'), `${path}.metadata`, 'an ObjectMeta');
  const metaPath = `${path}.metadata`;
  const namespace = wireField(meta, 'namespace');
  if (namespace !== undefined && typeof namespace !== 'string')
    fail(`${metaPath}.namespace is not a string`);
  return {
    namespace: namespace === undefined || namespace === '' ? 'default' : namespace,
    name: requiredString(meta, 'name', metaPath),
    uid: requiredString(meta, 'uid', metaPath),
    labels: stringMap(wireField(meta, 'labels'), `${metaPath}.labels`),
    annotations: stringMap(wireField(meta, 'annotations'), `${metaPath}.annotations`),
    raw: value,
  };
}

/** The UID of a pod in a full Victims list. */
function victimPodUid(value: unknown, path: string): string {
  const pod = requiredObject(value, path, 'a v1.Pod');
  const meta = requiredObject(wireField(pod, 'metadata'), `${path}.metadata`, 'an ObjectMeta');
  return requiredString(meta, 'uid', `${path}.metadata`);
}

/** The UID of a pod in a MetaVictims list. */
function metaPodUid(value: unknown, path: string): string {
  return requiredString(requiredObject(value, path, 'a MetaPod {UID}'), 'UID', path);
}

function decodeNodeNames(value: unknown): string[] {
  if (!Array.isArray(value)) fail('NodeNames is not an array of node names');
  for (let i = 0; i < value.length; i++)
    if (typeof value[i] !== 'string') fail(`NodeNames[${i}] is not a string`);
  return value as string[];
}

function decodeNodeList(value: unknown): NodeInput {
  const list = requiredObject(value, 'Nodes', 'a v1.NodeList');
  const items = arrayField(list, 'items', 'Nodes');
  const names = items.map((node, i) => {
    const path = `Nodes.items[${i}]`;
    const meta = requiredObject(
      wireField(requiredObject(node, path, 'a v1.Node'), 'metadata'),
      `${path}.metadata`,
      'an ObjectMeta',
    );
    return requiredString(meta, 'name', `${path}.metadata`);
  });
  return { names, nodes: items };
}

// ---- requests ---------------------------------------------------------------------------------

export interface DecodedArgs {
  readonly pod: ExtenderPod;
  readonly mode: NodeCacheMode;
  readonly nodes: NodeInput;
}

function requestObject(body: unknown, what: string): JsonObject {
  if (body === undefined || body === null) fail(`request body is empty; send ${what} as JSON`);
  if (!isObject(body)) fail(`request body is not a JSON object; send ${what}`);
  return body;
}

/**
 * Decodes the ExtenderArgs of a filter or prioritize call. `NodeNames` set means the scheduler
 * is node-cache-capable (checked first, as that is the mode Phalanx is deployed in); otherwise
 * `Nodes` must be set.
 */
export function decodeExtenderArgs(body: unknown): DecodedArgs {
  const args = requestObject(body, 'ExtenderArgs');
  const pod = decodePod(wireField(args, 'Pod'));
  const names = wireField(args, 'NodeNames');
  if (names !== undefined) return { pod, mode: 'cache', nodes: { names: decodeNodeNames(names) } };
  const nodes = wireField(args, 'Nodes');
  if (nodes !== undefined) return { pod, mode: 'full', nodes: decodeNodeList(nodes) };
  return fail('neither Nodes nor NodeNames is set; send the candidate nodes in one of them');
}

export interface DecodedPreemption {
  readonly pod: ExtenderPod;
  readonly mode: NodeCacheMode;
  /** Candidate node → proposed victims (pod UIDs), in the order sent. */
  readonly candidates: Map<string, MetaVictimsIn>;
}

function decodeVictimsMap(
  value: unknown,
  path: string,
  podUid: (pod: unknown, path: string) => string,
): Map<string, MetaVictimsIn> {
  if (!isObject(value)) fail(`${path} is not an object of node name to victims`);
  const out = new Map<string, MetaVictimsIn>();
  for (const [node, victims] of Object.entries(value)) {
    const at = keyPath(path, node);
    if (victims === null) {
      out.set(node, { podUids: [], numPDBViolations: 0 });
      continue;
    }
    const v = requiredObject(victims, at, 'Victims {Pods, NumPDBViolations}');
    const pods = arrayField(v, 'Pods', at);
    out.set(node, {
      podUids: pods.map((pod, i) => podUid(pod, `${at}.Pods[${i}]`)),
      numPDBViolations: integerField(v, 'NumPDBViolations', at),
    });
  }
  return out;
}

/**
 * Decodes ExtenderPreemptionArgs. Full victims (`NodeNameToVictims`, pods as objects) are
 * reduced to UIDs, so the decider sees one form whatever the mode.
 */
export function decodePreemptionArgs(body: unknown): DecodedPreemption {
  const args = requestObject(body, 'ExtenderPreemptionArgs');
  const pod = decodePod(wireField(args, 'Pod'));
  const meta = wireField(args, 'NodeNameToMetaVictims');
  if (meta !== undefined)
    return {
      pod,
      mode: 'cache',
      candidates: decodeVictimsMap(meta, 'NodeNameToMetaVictims', metaPodUid),
    };
  const full = wireField(args, 'NodeNameToVictims');
  if (full !== undefined)
    return {
      pod,
      mode: 'full',
      candidates: decodeVictimsMap(full, 'NodeNameToVictims', victimPodUid),
    };
  return fail(
    'neither NodeNameToVictims nor NodeNameToMetaVictims is set; send the candidate nodes in one of them',
  );
}

// ---- replies ----------------------------------------------------------------------------------

/**
 * Node name → message pairs as two parallel arrays, in input order. (An object with thousands of
 * keys is a slow dictionary in V8: building, enumerating and serialising one costs milliseconds.)
 */
export interface NodeMessages {
  readonly names: readonly string[];
  readonly messages: readonly string[];
}

/** A filter verdict the adapter has already made consistent with the input (see `guard.ts`). */
export interface FilterVerdict {
  readonly feasible: readonly string[];
  readonly failed: NodeMessages;
  readonly unresolvable: NodeMessages;
}

/** Strings JSON writes unchanged: no quote, backslash, control or non-ASCII character. */
const PLAIN = /^[\w .,:;=()/@+-]*$/;

/** A JSON string literal; node names and most messages need no escaping and skip the encoder. */
function quote(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

/** True when every message is the same string (the usual shape of a large failed map). */
function oneMessage(messages: readonly string[]): boolean {
  const first = messages[0];
  for (const m of messages) if (m !== first) return false;
  return true;
}

/**
 * `{"n1":"msg",...}`. When all nodes share one message (a planned gang member failing every
 * other node), the names are encoded in one native JSON.stringify call and the message is put
 * between them: in `["a","b"]` the sequence `","` only occurs between two elements (a quote
 * inside an element is always escaped), so replacing it is exact. Otherwise each pair is written
 * in turn, a run of equal messages escaped once.
 */
function messagesJson(m: NodeMessages): string {
  if (m.names.length === 0) return '{}';
  if (oneMessage(m.messages)) {
    const message = quote(m.messages[0] ?? '');
    const names = JSON.stringify(m.names);
    return `{${names.slice(1, -1).replaceAll('","', `":${message},"`)}:${message}}`;
  }
  let out = '';
  let last: string | undefined;
  let quoted = '';
  for (let i = 0; i < m.names.length; i++) {
    const message = m.messages[i] ?? '';
    if (message !== last) {
      last = message;
      quoted = quote(message);
    }
    out += `${i === 0 ? '' : ','}${quote(m.names[i] ?? '')}:${quoted}`;
  }
  return `{${out}}`;
}

/** The node objects of `names` as received (`input.nodes` aligned with `input.names`). */
function feasibleNodes(names: readonly string[], input: NodeInput): unknown[] {
  const byName = new Map<string, unknown>();
  input.names.forEach((name, i) => {
    if (!byName.has(name)) byName.set(name, input.nodes?.[i]);
  });
  return names.map((name) => byName.get(name) ?? { metadata: { name } });
}

/**
 * The filter reply (an {@link ExtenderFilterResult}) as JSON, in the mode of the call:
 * `NodeNames` (and `Nodes: null`) in cache mode; `Nodes: {items}` with the feasible nodes'
 * objects as received (and `NodeNames: null`) in full mode. Written by hand rather than with
 * JSON.stringify or fast-json-stringify because the failed maps arrive as parallel arrays (see
 * {@link NodeMessages}): 5,000 failed nodes with one message take about a tenth of the time of
 * building and serialising the equivalent object, mixed messages about half.
 */
export function filterResultJson(
  mode: NodeCacheMode,
  verdict: FilterVerdict,
  input: NodeInput,
): string {
  const tail = `"FailedNodes":${messagesJson(verdict.failed)},"FailedAndUnresolvableNodes":${messagesJson(verdict.unresolvable)},"Error":""}`;
  if (mode === 'cache')
    return `{"Nodes":null,"NodeNames":${JSON.stringify(verdict.feasible)},${tail}`;
  const items = JSON.stringify(feasibleNodes(verdict.feasible, input));
  return `{"Nodes":{"items":${items}},"NodeNames":null,${tail}`;
}

/** An integer score in [0, 10]: rounded, then clamped; NaN is 0. */
export function clampScore(score: number): number {
  if (Number.isNaN(score)) return MIN_EXTENDER_PRIORITY;
  const rounded = Math.round(score);
  if (rounded <= MIN_EXTENDER_PRIORITY) return MIN_EXTENDER_PRIORITY;
  return Math.min(rounded, MAX_EXTENDER_PRIORITY);
}

/** The prioritize reply: a bare array of `{Host, Score}` with integer scores in [0, 10]. */
export function encodeHostPriorities(scores: readonly HostScore[]): HostPriorityList {
  return scores.map((s) => ({ Host: s.host, Score: clampScore(s.score) }));
}

/** A count for an int64 field: a whole number ≥ 0 (NaN is 0). */
export function clampCount(n: number): number {
  if (!(n > 0)) return 0;
  return Math.min(Math.round(n), Number.MAX_SAFE_INTEGER);
}

/** The preempt reply, always in the meta (UID) form. */
export function encodePreemptionResult(
  result: ReadonlyMap<string, MetaVictimsIn>,
): ExtenderPreemptionResult {
  const out: Record<string, MetaVictims> = Object.create(null);
  for (const [node, victims] of result)
    out[node] = {
      Pods: victims.podUids.map((UID) => ({ UID })),
      NumPDBViolations: clampCount(victims.numPDBViolations),
    };
  return { NodeNameToMetaVictims: out };
}

export function errorReply(message: string): ExtenderErrorReply {
  return { Error: message };
}
