/**
 * A workload's shape mix, as the published FGD simulator derives its "typical pods": pods are
 * grouped by (CPU, milli-GPU per GPU, GPU count, accepted GPU models) — memory is not part of a
 * class — and the most frequent classes are kept until they cover 95% of the pods; their
 * frequencies are then renormalised over the kept classes. Ties in frequency are ordered by the
 * class itself (larger CPU first, then larger milli-GPU, GPU count, models), so the cut is
 * deterministic.
 *
 * Pure: no I/O.
 */
import type { PodShape } from '../scheduling/node-view.ts';
import type { ShapeMix } from '../scheduling/policy.ts';

/** The share of pods the kept classes must cover, in percent (the published default). */
export const MIX_COVERAGE_PERCENT = 95;

interface ShapeClass {
  readonly shape: PodShape;
  readonly models: string;
  count: number;
}

function classKey(shape: PodShape): string {
  return `${shape.cpuMilli}/${shape.gpuMilli}/${shape.gpuCount}/${shape.gpuModels.join('|')}`;
}

/** Descending by count, then descending by the class fields, as published. */
function compareClasses(a: ShapeClass, b: ShapeClass): number {
  return (
    b.count - a.count ||
    b.shape.cpuMilli - a.shape.cpuMilli ||
    b.shape.gpuMilli - a.shape.gpuMilli ||
    b.shape.gpuCount - a.shape.gpuCount ||
    (b.models < a.models ? -1 : b.models > a.models ? 1 : 0)
  );
}

/** The shape mix of `pods` (frequencies of the most common classes, summing to 1). */
export function workloadMix(
  pods: readonly { readonly shape: PodShape }[],
  coveragePercent = MIX_COVERAGE_PERCENT,
): ShapeMix {
  const classes = new Map<string, ShapeClass>();
  for (const { shape } of pods) {
    const key = classKey(shape);
    const found = classes.get(key);
    if (found !== undefined) found.count++;
    else {
      const models = shape.gpuModels.join('|');
      classes.set(key, { shape: { ...shape, memoryBytes: 0 }, models, count: 1 });
    }
  }
  const sorted = [...classes.values()].sort(compareClasses);
  const wanted = (coveragePercent * pods.length) / 100;
  const kept: ShapeClass[] = [];
  let covered = 0;
  for (const cls of sorted) {
    if (covered >= wanted) break;
    kept.push(cls);
    covered += cls.count;
  }
  return { shapes: kept.map((c) => ({ shape: c.shape, weight: c.count / covered })) };
}
