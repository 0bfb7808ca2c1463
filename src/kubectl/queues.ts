/**
 * `kubectl phalanx queues`: every Queue's spec (decoded and defaulted by the API package) with its
 * status as the planner core computes it now; the status the planner last wrote is kept beside
 * it. Pure.
 */
import {
  decodeQueue,
  type QueueObject,
  type QueueQuota,
  type QueueStatus,
} from '../api/scheduling/v1alpha1/queue.ts';
import type { Output } from './args.ts';
import { decimal, json, printTable } from './format.ts';
import type { ClusterView } from './view.ts';

export interface QueueRow {
  readonly name: string;
  readonly cohort: string | undefined;
  readonly priority: number | undefined;
  readonly weight: number | undefined;
  readonly quotas: readonly QueueQuota[];
  /** The core's status now (usage, borrowed, fair share, gangs, conditions). */
  readonly status: QueueStatus | undefined;
  /** The status the planner last wrote on the object. */
  readonly written: QueueStatus | undefined;
  /** Why the Queue cannot be used, when it is invalid. */
  readonly error: string | undefined;
}

function queueRow(view: ClusterView, raw: unknown): QueueRow {
  const object = raw as Partial<QueueObject>;
  const name = object.metadata?.name ?? '';
  const written = object.status;
  try {
    const queue = decodeQueue(raw);
    return {
      name,
      cohort: queue.spec.cohort,
      priority: queue.spec.priority,
      weight: queue.spec.weight,
      quotas: queue.spec.quotas,
      status: view.queueStatus.get(name),
      written,
      error: undefined,
    };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return {
      name,
      cohort: undefined,
      priority: undefined,
      weight: undefined,
      quotas: [],
      status: undefined,
      written,
      error: why,
    };
  }
}

export function queuesReport(view: ClusterView): QueueRow[] {
  return view.objects.queues
    .map((q) => queueRow(view, q))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** `gpu.phalanx.dev 3/8` per quota resource (usage/nominal), plus used resources without a quota. */
function quotaCell(row: QueueRow): string {
  const usage = row.status?.usage ?? [];
  const used = (resource: string): number =>
    usage.find((u) => u.resource === resource)?.admitted ?? 0;
  const cells = row.quotas.map((q) => `${q.resource} ${used(q.resource)}/${q.nominal}`);
  for (const u of usage) {
    if (!row.quotas.some((q) => q.resource === u.resource))
      cells.push(`${u.resource} ${u.admitted}/-`);
  }
  return cells.join(', ');
}

function borrowedCell(row: QueueRow): string {
  const borrowed = (row.status?.usage ?? []).filter((u) => u.borrowed > 0);
  return borrowed.length === 0
    ? '0'
    : borrowed.map((u) => `${u.resource} ${u.borrowed}`).join(', ');
}

/** Conditions as `Type=Status`, e.g. `Active=True,QuotaExhausted=False,Borrowing=False`. */
function conditionsCell(row: QueueRow): string {
  return (row.status?.conditions ?? []).map((c) => `${c.type}=${c.status}`).join(',');
}

/** Messages of the conditions that need attention: Active=False, or any other condition True. */
function conditionMessages(row: QueueRow): string {
  return (row.status?.conditions ?? [])
    .filter((c) => (c.type === 'Active') === (c.status === 'False'))
    .map((c) => `${c.type}: ${c.message}`)
    .join('; ');
}

export function renderQueues(rows: readonly QueueRow[], output: Output): string {
  if (output === 'json') return json({ queues: rows });
  const wide = output === 'wide';
  const headers = [
    'NAME',
    'COHORT',
    'PRIORITY',
    'WEIGHT',
    'QUOTA (USED/NOMINAL)',
    'BORROWED',
    'FAIR SHARE',
    'ADMITTED',
    'PENDING',
    'CONDITIONS',
    ...(wide ? ['MESSAGES'] : []),
  ];
  const table = rows.map((r) =>
    r.error !== undefined
      ? [r.name, '', '', '', '', '', '', '', '', 'Invalid', ...(wide ? [r.error] : [])]
      : [
          r.name,
          r.cohort ?? '',
          String(r.priority ?? ''),
          String(r.weight ?? ''),
          quotaCell(r),
          borrowedCell(r),
          decimal(r.status?.fairShare ?? 0, 4),
          String(r.status?.admittedGangs ?? 0),
          String(r.status?.pendingGangs ?? 0),
          conditionsCell(r),
          ...(wide ? [conditionMessages(r)] : []),
        ],
  );
  return printTable(headers, table);
}
