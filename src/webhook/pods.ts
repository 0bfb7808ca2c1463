/**
 * The pod mutation: a pod that belongs to a gang or a queue gets Phalanx's scheduling gate when it
 * is created, so kube-scheduler leaves it alone until the planner has planned its whole gang and
 * removes the gate. Pure: the namespace labels come through a lookup the caller backs (an informer
 * in production, a Map in tests).
 */

import { isRecord } from '../api/json.ts';
import {
  ANNOTATION_PLAN,
  LABEL_GANG,
  LABEL_GANG_SIZE,
  LABEL_QUEUE,
  LABEL_X_K8S_POD_GROUP,
  SCHEDULING_GATE,
} from '../api/scheduling/labels.ts';
import type { JsonPatchOp } from './admission.ts';

/** Labels of namespaces, which an AdmissionReview does not carry. */
export interface NamespaceLabels {
  /** The namespace's labels, or undefined when the namespace is not known (yet). */
  labelsOf(namespace: string): Readonly<Record<string, string>> | undefined;
  /**
   * False until the backing cache has synced (an informer's first list); the webhook reports
   * not ready until then. Absent means always ready.
   */
  ready?(): boolean;
}

/** A NamespaceLabels over a fixed map (tests, static configuration). */
export function mapNamespaceLabels(
  labels: ReadonlyMap<string, Readonly<Record<string, string>>>,
): NamespaceLabels {
  return { labelsOf: (namespace) => labels.get(namespace) };
}

export const DEFAULT_EXCLUDED_NAMESPACES: readonly string[] = ['kube-system'];

/** The largest gang a `phalanx.dev/gang-size` label may declare. */
export const MAX_GANG_SIZE = 10_000;

/** Annotation the kubelet puts on mirror pods of static pods. */
export const ANNOTATION_MIRROR_POD = 'kubernetes.io/config.mirror';

export interface PodMutationConfig {
  /** Namespaces whose pods are never gated. */
  readonly excludedNamespaces: readonly string[];
}

export interface PodMutation {
  /** Operations to apply; absent when the pod is admitted unchanged (or denied). */
  readonly patch?: JsonPatchOp[];
  /** Why the pod is rejected, as a sentence that says what to change. */
  readonly deny?: string;
  /** Why this decision, for logs (`gated: gang train-a (label phalanx.dev/gang)`). */
  readonly reason: string;
  /** Things the user should know though the pod is admitted. */
  readonly warnings?: string[];
}

interface PodFacts {
  readonly namespace: string;
  readonly display: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly nodeName: string | undefined;
  readonly gates: readonly unknown[] | undefined;
  readonly podGroupName: string | undefined;
}

function stringMap(value: unknown): Record<string, string> {
  if (!isRecord(value)) return {};
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) if (typeof v === 'string') out[key] = v;
  return out;
}

const nonEmpty = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

function podFacts(pod: unknown): PodFacts {
  const metadata = isRecord(pod) && isRecord(pod.metadata) ? pod.metadata : {};
  const spec = isRecord(pod) && isRecord(pod.spec) ? pod.spec : {};
  const namespace = nonEmpty(metadata.namespace) ?? 'default';
  const generated = nonEmpty(metadata.generateName);
  const name = nonEmpty(metadata.name) ?? (generated === undefined ? '<unnamed>' : `${generated}*`);
  const group = isRecord(spec.schedulingGroup) ? spec.schedulingGroup : {};
  return {
    namespace,
    display: `${namespace}/${name}`,
    labels: stringMap(metadata.labels),
    annotations: stringMap(metadata.annotations),
    nodeName: nonEmpty(spec.nodeName),
    gates: Array.isArray(spec.schedulingGates) ? spec.schedulingGates : undefined,
    podGroupName: nonEmpty(group.podGroupName),
  };
}

/** The gang a pod belongs to and where that was read from, or undefined. */
function gangOf(pod: PodFacts): { name: string; source: string } | undefined {
  if (pod.podGroupName !== undefined)
    return { name: pod.podGroupName, source: 'spec.schedulingGroup.podGroupName' };
  const xk8s = nonEmpty(pod.labels[LABEL_X_K8S_POD_GROUP]);
  if (xk8s !== undefined) return { name: xk8s, source: `label ${LABEL_X_K8S_POD_GROUP}` };
  const own = nonEmpty(pod.labels[LABEL_GANG]);
  if (own !== undefined) return { name: own, source: `label ${LABEL_GANG}` };
  return undefined;
}

/** The queue a pod belongs to and where that was read from, or undefined. */
function queueOf(
  pod: PodFacts,
  namespaceLabels: Readonly<Record<string, string>> | undefined,
): { name: string; source: string } | undefined {
  const own = nonEmpty(pod.labels[LABEL_QUEUE]);
  if (own !== undefined) return { name: own, source: `label ${LABEL_QUEUE}` };
  const fromNamespace = nonEmpty(namespaceLabels?.[LABEL_QUEUE]);
  if (fromNamespace !== undefined)
    return { name: fromNamespace, source: `namespace ${pod.namespace} default` };
  return undefined;
}

/** A sentence saying what to fix when a `phalanx.dev/gang` pod lacks a usable gang size. */
export function gangSizeProblem(
  labels: Readonly<Record<string, string>>,
  display: string,
): string | undefined {
  const gang = labels[LABEL_GANG];
  if (gang === undefined) return undefined;
  const size = labels[LABEL_GANG_SIZE];
  const wanted = `the number of pods in the gang, a whole number from 1 to ${MAX_GANG_SIZE}`;
  if (size === undefined)
    return `pod ${display} has label ${LABEL_GANG}=${gang} but no ${LABEL_GANG_SIZE}; add label ${LABEL_GANG_SIZE} set to ${wanted}`;
  if (!/^[1-9]\d{0,4}$/.test(size) || Number(size) > MAX_GANG_SIZE)
    return `pod ${display}: label ${LABEL_GANG_SIZE} is "${size}"; set it to ${wanted}`;
  return undefined;
}

const gateName = (gate: unknown): unknown => (isRecord(gate) ? gate.name : undefined);

/** Why the pod is left alone although it may belong to a gang or queue, or undefined. */
function skipReason(pod: PodFacts): string | undefined {
  if (pod.nodeName !== undefined)
    return `bound to node ${pod.nodeName} already (gates are not allowed on bound pods)`;
  if (pod.gates?.some((g) => gateName(g) === SCHEDULING_GATE))
    return `already carries gate ${SCHEDULING_GATE}`;
  if (pod.annotations[ANNOTATION_PLAN] !== undefined)
    return `already planned (annotation ${ANNOTATION_PLAN})`;
  return undefined;
}

/** The JSONPatch that adds the gate, whether or not the pod has a gate list yet. */
export function addGatePatch(existingGates: readonly unknown[] | undefined): JsonPatchOp[] {
  const gate = { name: SCHEDULING_GATE };
  return existingGates === undefined
    ? [{ op: 'add', path: '/spec/schedulingGates', value: [gate] }]
    : [{ op: 'add', path: '/spec/schedulingGates/-', value: gate }];
}

function membership(
  pod: PodFacts,
  namespaceLabels: NamespaceLabels,
): { reason: string | undefined; warnings: string[] } {
  const nsLabels = namespaceLabels.labelsOf(pod.namespace);
  const gang = gangOf(pod);
  const queue = queueOf(pod, nsLabels);
  const parts = [
    ...(gang === undefined ? [] : [`gang ${gang.name} (${gang.source})`]),
    ...(queue === undefined ? [] : [`queue ${queue.name} (${queue.source})`]),
  ];
  if (parts.length > 0) return { reason: parts.join(', '), warnings: [] };
  const warnings =
    nsLabels === undefined
      ? [
          `namespace ${pod.namespace} is unknown to the Phalanx webhook; a default queue on it (label ${LABEL_QUEUE}) was not applied`,
        ]
      : [];
  return { reason: undefined, warnings };
}

/**
 * Decides what to do with a pod being created: deny it (a `phalanx.dev/gang` without a valid
 * `phalanx.dev/gang-size`), gate it (member of a gang or queue), or leave it as it is.
 */
export function podMutation(
  pod: unknown,
  namespaceLabels: NamespaceLabels,
  config: PodMutationConfig,
): PodMutation {
  const facts = podFacts(pod);
  if (config.excludedNamespaces.includes(facts.namespace))
    return { reason: `namespace ${facts.namespace} is excluded` };
  if (facts.annotations[ANNOTATION_MIRROR_POD] !== undefined)
    return { reason: 'mirror pod of a static pod' };
  const problem = gangSizeProblem(facts.labels, facts.display);
  if (problem !== undefined) return { deny: problem, reason: 'invalid gang size' };
  const { reason, warnings } = membership(facts, namespaceLabels);
  const extra = warnings.length === 0 ? {} : { warnings };
  if (reason === undefined) return { reason: 'not in a gang or queue', ...extra };
  const skip = skipReason(facts);
  if (skip !== undefined) return { reason: `${reason}: ${skip}`, ...extra };
  return { patch: addGatePatch(facts.gates), reason: `gated: ${reason}`, ...extra };
}
