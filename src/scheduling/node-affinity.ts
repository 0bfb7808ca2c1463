/**
 * Whether a pod's own node constraints let it run on a node: `spec.nodeSelector` (every label
 * equal) and the required node affinity (`nodeSelectorTerms`: any term, each term all of its
 * `matchExpressions` on labels and `matchFields` on `metadata.name`). These are the rules
 * kube-scheduler's NodeAffinity filter applies, so a gang is never planned onto a node the
 * scheduler will refuse for the pod.
 *
 * Pure: no I/O.
 */

export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

/** The parts of a pod spec that constrain its node. */
export interface PodNodeConstraints {
  nodeSelector?: Record<string, string>;
  affinity?: {
    nodeAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: NodeSelectorTerm[] };
    };
  };
}

/** The node as the constraints see it. */
export interface SelectableNode {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

function integer(value: string | undefined): number | undefined {
  if (value === undefined || !/^-?\d+$/.test(value)) return undefined;
  return Number(value);
}

/** One requirement against a value (undefined: the label or field is absent). */
function requirementHolds(req: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      const have = integer(value);
      const bound = integer(values[0]);
      if (have === undefined || bound === undefined || values.length !== 1) return false;
      return req.operator === 'Gt' ? have > bound : have < bound;
    }
    default:
      // An operator the API server would have refused: match nothing rather than guess.
      return false;
  }
}

function fieldValue(node: SelectableNode, key: string): string | undefined {
  return key === 'metadata.name' ? node.name : undefined;
}

/** A term with neither expressions nor fields matches no node. */
function termMatches(term: NodeSelectorTerm, node: SelectableNode): boolean {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) return false;
  return (
    expressions.every((r) => requirementHolds(r, node.labels[r.key])) &&
    fields.every((r) => requirementHolds(r, fieldValue(node, r.key)))
  );
}

/** True when the pod's nodeSelector and required node affinity both admit the node. */
export function podSelectsNode(
  spec: PodNodeConstraints | undefined,
  node: SelectableNode,
): boolean {
  for (const [key, value] of Object.entries(spec?.nodeSelector ?? {})) {
    if (node.labels[key] !== value) return false;
  }
  const required = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required === undefined) return true;
  return (required.nodeSelectorTerms ?? []).some((t) => termMatches(t, node));
}
