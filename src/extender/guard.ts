/**
 * Keeps the extender's replies valid whatever a decider returns. kube-scheduler treats a node
 * name it did not send as a hard error, and a node that is neither feasible nor failed as a
 * silent loss, so the adapter:
 *
 * - drops node names that were not in the input;
 * - gives every input node exactly one verdict; when a decider names a node twice, unresolvable
 *   beats failed beats feasible (as upstream lets FailedAndUnresolvableNodes override
 *   FailedNodes);
 * - gives a node the decider said nothing about its `others` verdict, or else fails it with a
 *   sentence saying so;
 * - rounds and clamps scores, and keeps the first score of a host named twice.
 *
 * A valid answer in input order (the usual case) is recognised by walking it beside the input,
 * without hashing any name; anything else takes a general path through a name index. Either way
 * the verdict comes out in input order. Each correction is reported as a short problem line for
 * the adapter to log.
 *
 * Pure: no I/O.
 */
import type { FilterOutcome, HostScore, MetaVictimsIn } from './decider.ts';
import type { FilterVerdict } from './wire.ts';
import { clampCount, clampScore } from './wire.ts';

/** The FailedNodes message for a node the decider gave no verdict on. */
export const NO_VERDICT_MESSAGE =
  'the Phalanx extender reached no decision for this node; see the extender log';

/** How many offending node names a problem line lists before it only counts them. */
const NAMES_SHOWN = 5;

export interface Guarded<T> {
  readonly value: T;
  /** What had to be corrected, one sentence each; empty when the decider's answer was valid. */
  readonly problems: string[];
}

const VERDICT = { feasible: 1, failed: 2, unresolvable: 3 } as const;
type VerdictKind = (typeof VERDICT)[keyof typeof VERDICT];

/** Collects node names of one kind of problem and words them for the log. */
class NameTally {
  readonly #names: string[] = [];
  #count = 0;

  add(name: string): void {
    this.#count++;
    if (this.#names.length < NAMES_SHOWN) this.#names.push(name);
  }

  report(problems: string[], what: string): void {
    if (this.#count === 0) return;
    const more = this.#count > this.#names.length ? ` and ${this.#count - NAMES_SHOWN} more` : '';
    problems.push(`${what}: ${this.#names.map((n) => JSON.stringify(n)).join(', ')}${more}`);
  }
}

/** Position of each distinct input name (the first occurrence). */
function indexNames(names: readonly string[]): Map<string, number> {
  const index = new Map<string, number>();
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (name !== undefined && !index.has(name)) index.set(name, i);
  }
  return index;
}

interface Verdicts {
  readonly kinds: Uint8Array;
  readonly messages: (string | undefined)[];
  readonly unknown: NameTally;
  readonly conflicting: NameTally;
}

function mark(
  v: Verdicts,
  index: ReadonlyMap<string, number>,
  name: string,
  kind: VerdictKind,
  message?: string,
): void {
  const at = index.get(name);
  if (at === undefined) {
    v.unknown.add(name);
    return;
  }
  const previous = v.kinds[at] ?? 0;
  if (previous !== 0) v.conflicting.add(name);
  if (previous >= kind) return;
  v.kinds[at] = kind;
  v.messages[at] = message;
}

function collect(names: readonly string[], outcome: FilterOutcome) {
  const index = indexNames(names);
  const v: Verdicts = {
    kinds: new Uint8Array(names.length),
    messages: new Array<string | undefined>(names.length),
    unknown: new NameTally(),
    conflicting: new NameTally(),
  };
  for (const [name, message] of Object.entries(outcome.unresolvable))
    mark(v, index, name, VERDICT.unresolvable, message);
  for (const [name, message] of Object.entries(outcome.failed))
    mark(v, index, name, VERDICT.failed, message);
  for (const name of outcome.feasible) mark(v, index, name, VERDICT.feasible);
  return { index, v };
}

/** Collects a filter verdict in input order. */
class VerdictBuilder {
  readonly feasible: string[] = [];
  readonly failed = { names: [] as string[], messages: [] as string[] };
  readonly unresolvable = { names: [] as string[], messages: [] as string[] };

  add(kind: VerdictKind, name: string, message: string): void {
    if (kind === VERDICT.feasible) {
      this.feasible.push(name);
      return;
    }
    const to = kind === VERDICT.unresolvable ? this.unresolvable : this.failed;
    to.names.push(name);
    to.messages.push(message);
  }

  other(name: string, others: NonNullable<FilterOutcome['others']>): void {
    this.add(others.unresolvable ? VERDICT.unresolvable : VERDICT.failed, name, others.message);
  }

  verdict(): FilterVerdict {
    return { feasible: this.feasible, failed: this.failed, unresolvable: this.unresolvable };
  }
}

/**
 * The verdict when the decider's lists, walked in step with the input, account for every input
 * node once (with `others` covering the rest): the usual answer, checked with string comparisons
 * only. Hashing thousands of fresh node-name strings into a Set costs more than the rest of a
 * call, so the general path runs only when this walk fails. It trusts the input to name each node
 * once, as kube-scheduler does.
 */
function walkInInputOrder(
  names: readonly string[],
  outcome: FilterOutcome,
): FilterVerdict | undefined {
  const { feasible, others } = outcome;
  const failed = Object.keys(outcome.failed);
  const unresolvable = Object.keys(outcome.unresolvable);
  const listed = feasible.length + failed.length + unresolvable.length;
  if (others === undefined ? listed !== names.length : listed > names.length) return undefined;
  const out = new VerdictBuilder();
  let [f, x, u] = [0, 0, 0];
  for (const name of names) {
    if (feasible[f] === name) {
      f++;
      out.add(VERDICT.feasible, name, '');
    } else if (failed[x] === name) {
      x++;
      out.add(VERDICT.failed, name, outcome.failed[name] ?? '');
    } else if (unresolvable[u] === name) {
      u++;
      out.add(VERDICT.unresolvable, name, outcome.unresolvable[name] ?? '');
    } else if (others === undefined) return undefined;
    else out.other(name, others);
  }
  const consumed = f === feasible.length && x === failed.length && u === unresolvable.length;
  return consumed ? out.verdict() : undefined;
}

/** A filter verdict that names only input nodes and gives each of them exactly one verdict. */
export function guardFilterOutcome(
  names: readonly string[],
  outcome: FilterOutcome,
): Guarded<FilterVerdict> {
  const walked = walkInInputOrder(names, outcome);
  if (walked !== undefined) return { value: walked, problems: [] };
  const { index, v } = collect(names, outcome);
  const out = new VerdictBuilder();
  const silent = new NameTally();
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (name === undefined || index.get(name) !== i) continue; // a duplicate in the input
    const kind = v.kinds[i];
    if (kind === VERDICT.feasible || kind === VERDICT.failed || kind === VERDICT.unresolvable)
      out.add(kind, name, v.messages[i] ?? '');
    else if (outcome.others !== undefined) out.other(name, outcome.others);
    else {
      silent.add(name);
      out.add(VERDICT.failed, name, NO_VERDICT_MESSAGE);
    }
  }
  const problems: string[] = [];
  v.unknown.report(problems, 'filter: dropped nodes that were not in the input');
  v.conflicting.report(problems, 'filter: nodes given more than one verdict (kept the strictest)');
  silent.report(problems, 'filter: nodes given no verdict (failed them)');
  return { value: out.verdict(), problems };
}

/**
 * True when the hosts are a subsequence of the input (so each is an input node, once) and every
 * score is already an integer in [0, 10]: the usual answer, checked without hashing.
 */
function validInInputOrder(names: readonly string[], scores: readonly HostScore[]): boolean {
  let i = 0;
  for (const { host, score } of scores) {
    while (i < names.length && names[i] !== host) i++;
    if (i === names.length || clampScore(score) !== score) return false;
    i++;
  }
  return true;
}

/** Scores for input nodes only, each host once, rounded and clamped to [0, 10]. */
export function guardPriorities(
  names: readonly string[],
  scores: readonly HostScore[],
): Guarded<readonly HostScore[]> {
  if (validInInputOrder(names, scores)) return { value: scores, problems: [] };
  const input = new Set(names);
  const seen = new Set<string>();
  const unknown = new NameTally();
  const repeated = new NameTally();
  const odd = new NameTally();
  const value: HostScore[] = [];
  for (const { host, score } of scores) {
    if (!input.has(host)) unknown.add(host);
    else if (seen.has(host)) repeated.add(host);
    else {
      seen.add(host);
      const clamped = clampScore(score);
      if (clamped !== score) odd.add(host);
      value.push({ host, score: clamped });
    }
  }
  const problems: string[] = [];
  unknown.report(problems, 'prioritize: dropped hosts that were not in the input');
  repeated.report(problems, 'prioritize: dropped repeated hosts (kept the first score)');
  odd.report(problems, 'prioritize: scores outside the integers 0..10 (rounded and clamped)');
  return { value, problems };
}

/** Preemption candidates limited to the nodes the scheduler proposed. */
export function guardPreemption(
  candidates: ReadonlyMap<string, MetaVictimsIn>,
  result: ReadonlyMap<string, MetaVictimsIn>,
): Guarded<Map<string, MetaVictimsIn>> {
  const unknown = new NameTally();
  const value = new Map<string, MetaVictimsIn>();
  for (const [node, victims] of result) {
    if (!candidates.has(node)) unknown.add(node);
    else
      value.set(node, {
        podUids: [...victims.podUids],
        numPDBViolations: clampCount(victims.numPDBViolations),
      });
  }
  const problems: string[] = [];
  unknown.report(problems, 'preempt: dropped nodes that were not candidates');
  return { value, problems };
}
