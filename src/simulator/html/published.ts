/**
 * The published openb results the report draws as references (FGD paper, Weng et al., ATC'23,
 * and its simulator's expected results; see docs/simulator-method.md), and how a run's pod file
 * is recognised as one of the published traces: by its sha256, else by its file name.
 *
 * Pure: no I/O.
 */

export type OpenbTraceName = 'default' | 'multigpu50';

export interface OpenbTraceFile {
  readonly file: string;
  readonly sha256: string;
  /** How the report names the trace. */
  readonly title: string;
}

/** The published pod lists with the hashes of the byte-identical copies the results came from. */
export const OPENB_POD_FILES: Readonly<Record<OpenbTraceName, OpenbTraceFile>> = {
  default: {
    file: 'openb_pod_list_default.csv',
    sha256: '1ee7ed79c27a3b0861cda8ddba86a004c6aba904caafa329a76ae93ca63834a8',
    title: 'openb_pod_list_default (Alibaba cluster-trace-gpu-v2023)',
  },
  multigpu50: {
    file: 'openb_pod_list_multigpu50.csv',
    sha256: '206f2f5959db30ecb7c44e7f13197c8ec50b7a35558ad3777cc3662ef0fe5373',
    title: 'openb_pod_list_multigpu50 (Alibaba cluster-trace-gpu-v2023)',
  },
};

/** Published GPU allocation (%) at 130% and 100% arrived, fragmentation (%) at 50/80/90%. */
export interface PublishedOpenb {
  readonly at130: number;
  readonly at100?: number;
  readonly frag?: readonly [number, number, number];
}

/** Arrived-demand steps (%) of the published fragmentation numbers. */
export const PUBLISHED_FRAG_STEPS = [50, 80, 90] as const;

/** The demand ratio of the published protocol (130%). */
export const PUBLISHED_RATIO = 1.3;

/**
 * Means over seeds 42–51. Allocation: the openb README table; fragmentation: the README (random,
 * gpu-packing, best-fit, fgd) and the artifact's analysis_frag_discrete.csv (dot-product,
 * gpu-clustering).
 */
export const PUBLISHED_OPENB: Readonly<
  Record<OpenbTraceName, Readonly<Record<string, PublishedOpenb>>>
> = {
  default: {
    random: { at130: 87.47, at100: 86.3, frag: [15.1, 15.9, 14.5] },
    'dot-product': { at130: 90.85, at100: 90.6, frag: [12.09, 10.09, 9.43] },
    'gpu-clustering': { at130: 91.88, at100: 91.7, frag: [12.11, 9.36, 8.45] },
    'gpu-packing': { at130: 92.0, at100: 91.8, frag: [12.0, 9.3, 8.4] },
    'best-fit': { at130: 93.08, at100: 92.9, frag: [10.8, 8.3, 7.4] },
    fgd: { at130: 95.39, at100: 95.2, frag: [8.9, 6.0, 5.0] },
  },
  multigpu50: {
    random: { at130: 90.27 },
    'dot-product': { at130: 94.85 },
    'gpu-clustering': { at130: 95.81 },
    'gpu-packing': { at130: 96.18 },
    'best-fit': { at130: 95.74 },
    fgd: { at130: 97.18 },
  },
};

/** Credit lines wherever openb results are shown. */
export const OPENB_CREDITS: readonly string[] = [
  'Trace: Alibaba clusterdata, cluster-trace-gpu-v2023 (the "openb" trace).',
  'Published numbers: "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent", Weng et al., USENIX ATC \'23, and its simulator hkust-adsl/kubernetes-scheduler-simulator (Apache-2.0).',
];

function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] ?? path;
}

export interface OpenbMatch {
  readonly name: OpenbTraceName;
  /** true when the sha256 matches; false when only the file name does. */
  readonly exact: boolean;
}

/** Which published trace a pod file is: same sha256 (exact), else same file name; or undefined. */
export function openbTraceOf(pods: {
  readonly path: string;
  readonly sha256: string;
}): OpenbMatch | undefined {
  const names = Object.keys(OPENB_POD_FILES) as OpenbTraceName[];
  const bySha = names.find((n) => OPENB_POD_FILES[n].sha256 === pods.sha256.toLowerCase());
  if (bySha !== undefined) return { name: bySha, exact: true };
  const byName = names.find((n) => OPENB_POD_FILES[n].file === baseName(pods.path));
  return byName === undefined ? undefined : { name: byName, exact: false };
}
