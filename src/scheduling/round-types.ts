/**
 * The contract between the pure planner/extender core and the processes that run it: what the
 * core reads (plain API objects, as informers hold them) and what it asks to be written.
 *
 * Pure types: no I/O.
 */
import type { ResourceClaim, ResourceSlice } from '../api/resource/v1.ts';
import type { TopologyLevel } from './topology.ts';
import type { ClaimSpecObject, DeviceClassObject, PodObject } from './workload.ts';

export interface NodeObject {
  metadata: { name?: string; uid?: string; labels?: Record<string, string> };
  spec?: {
    unschedulable?: boolean;
    taints?: { key: string; value?: string; effect: string }[];
  };
  status?: { allocatable?: Record<string, string> };
}

export interface ClaimTemplateObject {
  metadata: { name?: string; namespace?: string };
  spec?: { spec?: ClaimSpecObject };
}

/** scheduling.x-k8s.io PodGroup (spec.minMember) or native scheduling.k8s.io PodGroup. */
export interface PodGroupObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; namespace?: string; uid?: string; creationTimestamp?: string };
  spec?: {
    minMember?: number;
    schedulingPolicy?: { gang?: { minCount?: number } };
  };
}

/** Everything the core reads, as informers hold it. */
export interface ClusterObjects {
  readonly nodes: readonly NodeObject[];
  readonly slices: readonly ResourceSlice[];
  readonly claims: readonly ResourceClaim[];
  readonly templates: readonly ClaimTemplateObject[];
  readonly pods: readonly PodObject[];
  /** Namespace name → labels. */
  readonly namespaces: ReadonlyMap<string, Readonly<Record<string, string>>>;
  readonly podGroups: readonly PodGroupObject[];
  /** scheduling.phalanx.dev Queue objects as listed (decoded and validated by the core). */
  readonly queues: readonly unknown[];
  /**
   * resource.k8s.io DeviceClasses. Without them (trace replays, older callers) requests of the
   * whole-GPU class count as whole GPUs and no CEL selector is evaluated.
   */
  readonly deviceClasses?: readonly DeviceClassObject[];
}

export interface PlannerSettings {
  readonly levels?: readonly TopologyLevel[];
  /** Placement policy name (see scheduling/policies); default `phalanx`. */
  readonly policy?: string;
  /** A planned pod not bound within this time makes its gang stale (default 300 s). */
  readonly planTtlSeconds?: number;
  /** Current time, ms since the epoch. */
  readonly now: number;
}

/** One pod update the planner asks for. Apply all annotation writes of a round before any pin. */
export interface PodWrite {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** Annotations to set (string) or remove (null). */
  readonly annotations: Readonly<Record<string, string | null>>;
  /**
   * When set: add a required node affinity to this node and remove the Phalanx scheduling gate,
   * in one update (allowed because the pod is still gated when the update is checked).
   */
  readonly pinNode?: string;
}

/** A pod to delete because its gang's plan went stale; its controller recreates it gated. */
export interface PodDeletion {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly reason: string;
}

export interface CoreEvent {
  readonly kind: 'Pod' | 'PodGroup';
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly type: 'Normal' | 'Warning';
  /** CamelCase reason, e.g. `GangPlanned`, `GangWaiting`, `QuotaExhausted`. */
  readonly reason: string;
  readonly message: string;
}

export type GangPhase = 'Incomplete' | 'Waiting' | 'Planned' | 'Running' | 'Stale';

export interface GangReport {
  readonly key: string;
  readonly queue: string | undefined;
  readonly phase: GangPhase;
  readonly members: number;
  readonly size: number;
  readonly gpus: number;
  readonly reason?: string;
  readonly level?: string;
  readonly domain?: string;
}

export interface QueueStatusUpdate {
  readonly name: string;
  /** The full `status` object to write with the status subresource. */
  readonly status: unknown;
}

export interface RoundResult {
  readonly writes: readonly PodWrite[];
  readonly deletions: readonly PodDeletion[];
  readonly events: readonly CoreEvent[];
  readonly queues: readonly QueueStatusUpdate[];
  readonly gangs: readonly GangReport[];
  /** Objects the core could not read (bad Queue, slice of an unknown node…), one sentence each. */
  readonly problems: readonly string[];
}
