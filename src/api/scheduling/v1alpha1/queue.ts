/**
 * `scheduling.phalanx.dev/v1alpha1` `Queue`: a cluster-scoped quota of GPU devices that gangs are
 * admitted against. Queues in one cohort lend each other the nominal quota they do not use.
 *
 * ```yaml
 * apiVersion: scheduling.phalanx.dev/v1alpha1
 * kind: Queue
 * metadata: { name: team-a }
 * spec:
 *   cohort: research              # optional: lend and borrow within this cohort
 *   priority: 0                   # higher queues are served first
 *   weight: 1                     # fair-share weight (> 0)
 *   quotas:
 *     - resource: gpu.phalanx.dev # a device class, or <deviceClass>/<partition profile>
 *       nominal: 16
 *       borrowingLimit: 8         # unset: may borrow all the cohort lends
 *       lendingLimit: 4           # unset: lends all unused nominal
 *   preemption:
 *     reclaimWithinCohort: Any    # Never | LowerPriority | Any
 *     withinQueue: LowerPriority  # Never | LowerPriority
 * ```
 *
 * One code path for the webhook and the planner: validate (every error, each naming its field) →
 * default. Written by hand rather than with a generated schema validator because every error must
 * be reported at once, as a sentence that names the field path; crd.ts builds the OpenAPI schema
 * from the same limits.
 */
import { describeValue, type Fields, isRecord } from '../../json.ts';
import type { ObjectMeta } from '../../resource/v1.ts';
import { SCHEDULING_GROUP } from '../labels.ts';

export const QUEUE_GROUP = SCHEDULING_GROUP;
export const QUEUE_VERSION = 'v1alpha1';
export const QUEUE_API_VERSION = `${QUEUE_GROUP}/${QUEUE_VERSION}` as const;
export const QUEUE_KIND = 'Queue';
export const QUEUE_PLURAL = 'queues';
export const QUEUE_SINGULAR = 'queue';
export const QUEUE_SHORT_NAME = 'pq';

export const RECLAIM_WITHIN_COHORT_POLICIES = ['Never', 'LowerPriority', 'Any'] as const;
export const WITHIN_QUEUE_POLICIES = ['Never', 'LowerPriority'] as const;
export type ReclaimWithinCohortPolicy = (typeof RECLAIM_WITHIN_COHORT_POLICIES)[number];
export type WithinQueuePolicy = (typeof WITHIN_QUEUE_POLICIES)[number];

export const DEFAULT_PRIORITY = 0;
export const DEFAULT_WEIGHT = 1;
export const DEFAULT_RECLAIM_WITHIN_COHORT: ReclaimWithinCohortPolicy = 'Any';
export const DEFAULT_WITHIN_QUEUE: WithinQueuePolicy = 'LowerPriority';

export const MIN_PRIORITY = -2147483648;
export const MAX_PRIORITY = 2147483647;
/** Most quota entries one queue may list. */
export const MAX_QUOTAS = 64;
/** Largest device count a quota amount may hold. */
export const MAX_DEVICE_COUNT = 1_000_000;
export const MAX_SUBDOMAIN_LENGTH = 253;
export const MAX_PROFILE_LENGTH = 63;
/** `<deviceClass>/<profile>` at its longest. */
export const MAX_RESOURCE_LENGTH = MAX_SUBDOMAIN_LENGTH + 1 + MAX_PROFILE_LENGTH;

const SUBDOMAIN = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
const PROFILE = '[a-z0-9]([-a-z0-9_.+]*[a-z0-9])?';
/** A DNS-1123 subdomain (names of queues, cohorts and device classes). RE2- and ECMA-compatible. */
export const SUBDOMAIN_PATTERN = `^${SUBDOMAIN}$`;
/** A quota resource: a device class name, optionally followed by `/<partition profile>`. */
export const RESOURCE_PATTERN = `^${SUBDOMAIN}(/${PROFILE})?$`;

const SUBDOMAIN_RE = new RegExp(SUBDOMAIN_PATTERN);
const PROFILE_RE = new RegExp(`^${PROFILE}$`);

export interface QueueQuota {
  resource: string;
  nominal: number;
  borrowingLimit?: number;
  lendingLimit?: number;
}

export interface QueuePreemption {
  reclaimWithinCohort?: ReclaimWithinCohortPolicy;
  withinQueue?: WithinQueuePolicy;
}

/** The spec as users write it. */
export interface QueueSpec {
  cohort?: string;
  priority?: number;
  weight?: number;
  quotas?: QueueQuota[];
  preemption?: QueuePreemption;
}

/** The spec with every default filled in (`cohort` and the quota limits have no default). */
export interface DefaultedQueueSpec {
  cohort?: string;
  priority: number;
  weight: number;
  quotas: QueueQuota[];
  preemption: Required<QueuePreemption>;
}

export interface QueueResourceUsage {
  resource: string;
  /** Devices held by admitted gangs. */
  admitted: number;
  /** The part of `admitted` above nominal quota, borrowed from the cohort. */
  borrowed: number;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** The metav1.Condition shape. */
export interface QueueCondition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface QueueStatus {
  usage?: QueueResourceUsage[];
  admittedGangs?: number;
  pendingGangs?: number;
  /** Dominant share of the queue's quota in use, divided by its weight. */
  fairShare?: number;
  conditions?: QueueCondition[];
}

/** A Queue as stored in the API server. */
export interface QueueObject {
  apiVersion: typeof QUEUE_API_VERSION;
  kind: typeof QUEUE_KIND;
  metadata: ObjectMeta;
  spec?: QueueSpec;
  status?: QueueStatus;
}

/** A validated Queue with its defaults applied: what the scheduling core works with. */
export interface Queue {
  apiVersion: typeof QUEUE_API_VERSION;
  kind: typeof QUEUE_KIND;
  metadata: ObjectMeta & { name: string };
  spec: DefaultedQueueSpec;
  status?: QueueStatus;
}

/** A Queue that cannot be used; `errors` holds one sentence per problem. */
export class QueueValidationError extends Error {
  readonly errors: readonly string[];
  constructor(message: string, errors: readonly string[]) {
    super(message);
    this.name = 'QueueValidationError';
    this.errors = errors;
  }
}

// ---- defaulting --------------------------------------------------------------------------------

function copyQuota(quota: QueueQuota): QueueQuota {
  const copy: QueueQuota = { resource: quota.resource, nominal: quota.nominal };
  if (quota.borrowingLimit !== undefined) copy.borrowingLimit = quota.borrowingLimit;
  if (quota.lendingLimit !== undefined) copy.lendingLimit = quota.lendingLimit;
  return copy;
}

/** Fills in the defaults of a spec. Idempotent; never mutates its argument. */
export function defaultQueue(spec: QueueSpec): DefaultedQueueSpec {
  const defaulted: DefaultedQueueSpec = {
    priority: spec.priority ?? DEFAULT_PRIORITY,
    weight: spec.weight ?? DEFAULT_WEIGHT,
    quotas: (spec.quotas ?? []).map(copyQuota),
    preemption: {
      reclaimWithinCohort: spec.preemption?.reclaimWithinCohort ?? DEFAULT_RECLAIM_WITHIN_COHORT,
      withinQueue: spec.preemption?.withinQueue ?? DEFAULT_WITHIN_QUEUE,
    },
  };
  if (spec.cohort !== undefined) defaulted.cohort = spec.cohort;
  return defaulted;
}

// ---- validation --------------------------------------------------------------------------------

const got = (value: unknown): string => describeValue(value);

const SUBDOMAIN_RULE = `a DNS-1123 subdomain (at most ${MAX_SUBDOMAIN_LENGTH} lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)`;

export function isSubdomain(value: string): boolean {
  return value.length <= MAX_SUBDOMAIN_LENGTH && SUBDOMAIN_RE.test(value);
}

/** True for `gpu.phalanx.dev` and `partition.gpu.phalanx.dev/1g.10gb`. */
export function isQuotaResource(value: string): boolean {
  const slash = value.indexOf('/');
  if (slash < 0) return isSubdomain(value);
  const profile = value.slice(slash + 1);
  return (
    isSubdomain(value.slice(0, slash)) &&
    profile.length <= MAX_PROFILE_LENGTH &&
    PROFILE_RE.test(profile)
  );
}

class Collector {
  readonly errors: string[] = [];
  add(path: string, message: string): void {
    this.errors.push(`${path}: ${message}`);
  }
  /** Reports fields of `obj` that are not in `known`. */
  unknown(path: string, obj: Fields, known: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (known.includes(key)) continue;
      const where = /^[A-Za-z_$][\w$-]*$/.test(key)
        ? `${path}${path === '' ? '' : '.'}${key}`
        : `${path}[${JSON.stringify(key)}]`;
      this.add(where, `unknown field; remove it or fix its spelling (known: ${known.join(', ')})`);
    }
  }
  object(path: string, value: unknown): value is Fields {
    if (isRecord(value)) return true;
    this.add(path, `must be an object, got ${got(value)}`);
    return false;
  }
  count(path: string, value: unknown): value is number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      this.add(path, `must be a non-negative integer, got ${got(value)}`);
      return false;
    }
    if (value > MAX_DEVICE_COUNT) {
      this.add(path, `must be at most ${MAX_DEVICE_COUNT}, got ${got(value)}`);
      return false;
    }
    return true;
  }
  oneOf(path: string, value: unknown, allowed: readonly string[]): void {
    if (typeof value === 'string' && allowed.includes(value)) return;
    this.add(path, `must be one of ${allowed.join(', ')}, got ${got(value)}`);
  }
  subdomain(path: string, value: unknown): void {
    if (typeof value === 'string' && isSubdomain(value)) return;
    this.add(path, `must be ${SUBDOMAIN_RULE}, got ${got(value)}`);
  }
}

const ROOT_FIELDS = ['apiVersion', 'kind', 'metadata', 'spec', 'status'] as const;
const SPEC_FIELDS = ['cohort', 'priority', 'weight', 'quotas', 'preemption'] as const;
const QUOTA_FIELDS = ['resource', 'nominal', 'borrowingLimit', 'lendingLimit'] as const;
const PREEMPTION_FIELDS = ['reclaimWithinCohort', 'withinQueue'] as const;

function checkTypeMeta(c: Collector, obj: Fields): void {
  if (obj.apiVersion !== QUEUE_API_VERSION) {
    c.add('apiVersion', `must be ${QUEUE_API_VERSION}, got ${got(obj.apiVersion)}`);
  }
  if (obj.kind !== QUEUE_KIND) c.add('kind', `must be ${QUEUE_KIND}, got ${got(obj.kind)}`);
}

function checkMetadata(c: Collector, metadata: unknown): void {
  if (metadata === undefined) {
    c.add('metadata', 'is required');
    return;
  }
  if (!c.object('metadata', metadata)) return;
  if (metadata.name === undefined) c.add('metadata.name', 'is required');
  else c.subdomain('metadata.name', metadata.name);
  if (metadata.namespace !== undefined && metadata.namespace !== '') {
    c.add(
      'metadata.namespace',
      `must not be set, Queue is cluster-scoped; got ${got(metadata.namespace)}`,
    );
  }
}

function checkPriority(c: Collector, value: unknown): void {
  if (value === undefined) return;
  const ok =
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= MIN_PRIORITY &&
    value <= MAX_PRIORITY;
  if (!ok) {
    c.add(
      'spec.priority',
      `must be an integer between ${MIN_PRIORITY} and ${MAX_PRIORITY}, got ${got(value)}`,
    );
  }
}

function checkWeight(c: Collector, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    c.add('spec.weight', `must be a number greater than 0, got ${got(value)}`);
  }
}

function checkQuota(c: Collector, path: string, quota: unknown): void {
  if (!c.object(path, quota)) return;
  c.unknown(path, quota, QUOTA_FIELDS);
  const { resource, nominal, borrowingLimit, lendingLimit } = quota;
  if (resource === undefined) c.add(`${path}.resource`, 'is required');
  else if (typeof resource !== 'string' || !isQuotaResource(resource)) {
    c.add(
      `${path}.resource`,
      `must be a device class name or <deviceClass>/<partition profile>, e.g. gpu.phalanx.dev or partition.gpu.phalanx.dev/1g.10gb, got ${got(resource)}`,
    );
  }
  const nominalOk = nominal === undefined ? false : c.count(`${path}.nominal`, nominal);
  if (nominal === undefined) c.add(`${path}.nominal`, 'is required');
  if (borrowingLimit !== undefined) c.count(`${path}.borrowingLimit`, borrowingLimit);
  if (lendingLimit === undefined || !c.count(`${path}.lendingLimit`, lendingLimit)) return;
  if (nominalOk && typeof nominal === 'number' && lendingLimit > nominal) {
    c.add(
      `${path}.lendingLimit`,
      `must not exceed nominal (${nominal}), got ${lendingLimit}; a queue can only lend its own quota`,
    );
  }
}

function checkDuplicates(c: Collector, quotas: readonly unknown[]): void {
  const first = new Map<string, number>();
  quotas.forEach((quota, i) => {
    if (!isRecord(quota) || typeof quota.resource !== 'string') return;
    const seen = first.get(quota.resource);
    if (seen === undefined) {
      first.set(quota.resource, i);
      return;
    }
    c.add(
      `spec.quotas[${i}].resource`,
      `duplicate resource ${got(quota.resource)}, already in spec.quotas[${seen}]; list each resource once`,
    );
  });
}

function checkQuotas(c: Collector, quotas: unknown): void {
  if (quotas === undefined) return;
  if (!Array.isArray(quotas)) {
    c.add('spec.quotas', `must be a list, got ${got(quotas)}`);
    return;
  }
  if (quotas.length > MAX_QUOTAS) {
    c.add('spec.quotas', `must have at most ${MAX_QUOTAS} entries, got ${quotas.length}`);
  }
  quotas.forEach((quota, i) => {
    checkQuota(c, `spec.quotas[${i}]`, quota);
  });
  checkDuplicates(c, quotas);
}

function checkPreemption(c: Collector, preemption: unknown): void {
  if (preemption === undefined || !c.object('spec.preemption', preemption)) return;
  c.unknown('spec.preemption', preemption, PREEMPTION_FIELDS);
  const { reclaimWithinCohort, withinQueue } = preemption;
  if (reclaimWithinCohort !== undefined) {
    c.oneOf(
      'spec.preemption.reclaimWithinCohort',
      reclaimWithinCohort,
      RECLAIM_WITHIN_COHORT_POLICIES,
    );
  }
  if (withinQueue !== undefined) {
    c.oneOf('spec.preemption.withinQueue', withinQueue, WITHIN_QUEUE_POLICIES);
  }
}

function checkSpec(c: Collector, spec: unknown): void {
  if (spec === undefined || !c.object('spec', spec)) return;
  c.unknown('spec', spec, SPEC_FIELDS);
  if (spec.cohort !== undefined) c.subdomain('spec.cohort', spec.cohort);
  checkPriority(c, spec.priority);
  checkWeight(c, spec.weight);
  checkQuotas(c, spec.quotas);
  checkPreemption(c, spec.preemption);
}

/**
 * Every problem with a Queue object, one sentence each, naming the field path. Empty when the
 * object is a valid Queue. Status is the planner's and is only checked to be an object.
 */
export function validateQueue(obj: unknown): string[] {
  const c = new Collector();
  if (!isRecord(obj)) {
    c.add(
      'object',
      `must be a ${QUEUE_KIND} object with apiVersion ${QUEUE_API_VERSION}, got ${got(obj)}`,
    );
    return c.errors;
  }
  c.unknown('', obj, ROOT_FIELDS);
  checkTypeMeta(c, obj);
  checkMetadata(c, obj.metadata);
  checkSpec(c, obj.spec);
  if (obj.status !== undefined) c.object('status', obj.status);
  return c.errors;
}

function nameOf(obj: unknown): string | undefined {
  if (!isRecord(obj) || !isRecord(obj.metadata)) return undefined;
  const name = obj.metadata.name;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** Validates and defaults a Queue; throws a QueueValidationError listing every problem. */
export function decodeQueue(obj: unknown): Queue {
  const errors = validateQueue(obj);
  if (errors.length > 0) {
    const name = nameOf(obj);
    const subject = name === undefined ? QUEUE_KIND : `${QUEUE_KIND} ${name}`;
    throw new QueueValidationError(`${subject} is invalid: ${errors.join('; ')}`, errors);
  }
  const valid = obj as QueueObject & { metadata: { name: string } };
  const queue: Queue = {
    apiVersion: QUEUE_API_VERSION,
    kind: QUEUE_KIND,
    metadata: { ...valid.metadata },
    spec: defaultQueue(valid.spec ?? {}),
  };
  if (valid.status !== undefined) queue.status = valid.status;
  return queue;
}

// ---- status conditions -------------------------------------------------------------------------

/** A condition before the time it last changed is known. */
export type ConditionUpdate = Omit<QueueCondition, 'lastTransitionTime'>;

/**
 * The conditions to write: `next`, with each condition's `lastTransitionTime` kept from `previous`
 * when its status did not change, and set to `now` (RFC 3339) when it did or is new.
 */
export function mergeConditions(
  previous: readonly QueueCondition[] | undefined,
  next: readonly ConditionUpdate[],
  now: string,
): QueueCondition[] {
  return next.map((condition) => {
    const before = previous?.find((p) => p.type === condition.type);
    const lastTransitionTime =
      before !== undefined && before.status === condition.status ? before.lastTransitionTime : now;
    return { ...condition, lastTransitionTime };
  });
}
