/**
 * The extender's view of the caches: reused between pods binding elsewhere while nothing is
 * reserved, taken fresh at once for plans, structure changes, or any change while a plan
 * reserves capacity.
 */
import { describe, expect, it } from 'vitest';
import { ANNOTATION_PLAN } from '../../../src/api/scheduling/labels.ts';
import { ExtenderView, type ViewSource } from '../../../src/kube/extender-view.ts';
import type { InformerChange, KubeObject } from '../../../src/kube/informer.ts';
import type { ClusterObjects } from '../../../src/scheduling/round-types.ts';
import type { PodObject } from '../../../src/scheduling/workload.ts';

class FakeCaches implements ViewSource {
  pods: PodObject[] = [];
  taken = 0;
  #listener: ((resource: string, change: InformerChange<KubeObject>) => void) | undefined;

  snapshot(): ClusterObjects {
    this.taken++;
    return {
      nodes: [],
      slices: [],
      claims: [],
      templates: [],
      pods: [...this.pods],
      namespaces: new Map(),
      podGroups: [],
      queues: [],
    };
  }

  onEachChange(listener: (resource: string, change: InformerChange<KubeObject>) => void) {
    this.#listener = listener;
    return () => {
      this.#listener = undefined;
    };
  }

  change(resource: string, object: KubeObject): void {
    this.#listener?.(resource, { type: 'updated', object });
  }
}

const pod = (name: string, extra: Partial<PodObject> = {}): PodObject => ({
  metadata: { name, namespace: 'ml' },
  ...extra,
});
const plannedPod = (name: string, nodeName?: string): PodObject => ({
  metadata: { name, namespace: 'ml', annotations: { [ANNOTATION_PLAN]: '{}' } },
  spec: nodeName === undefined ? {} : { nodeName },
});

describe('ExtenderView', () => {
  it('reuses the objects while only unplanned pods change and nothing is reserved, up to the staleness', () => {
    const caches = new FakeCaches();
    let now = 0;
    const view = new ExtenderView(caches, 1000, () => now);
    const first = view.objects();
    caches.change('pods', pod('a', { spec: { nodeName: 'n1' } }) as KubeObject);
    caches.change('resourceclaims', { metadata: { name: 'c' } });
    now = 900;
    expect(view.objects()).toBe(first);
    now = 1001;
    expect(view.objects()).not.toBe(first);
    expect(caches.taken).toBe(2);
    // Nothing changed since: the same objects however old.
    now = 60_000;
    expect(caches.taken).toBe(2);
    view.objects();
    expect(caches.taken).toBe(2);
    view.close();
  });

  it('takes plans and structural changes at once', () => {
    const caches = new FakeCaches();
    const view = new ExtenderView(caches, 1000, () => 0);
    view.objects();
    caches.change('pods', plannedPod('g-0') as KubeObject);
    view.objects();
    expect(caches.taken).toBe(2);
    for (const resource of ['nodes', 'resourceslices', 'deviceclasses', 'queues', 'podgroups']) {
      caches.change(resource, { metadata: { name: 'x' } });
      view.objects();
    }
    expect(caches.taken).toBe(7);
  });

  it('takes every change at once while a planned pod waits to bind', () => {
    const caches = new FakeCaches();
    caches.pods = [plannedPod('g-0')];
    const view = new ExtenderView(caches, 1000, () => 0);
    view.objects();
    caches.change('pods', pod('other', { spec: { nodeName: 'n1' } }) as KubeObject);
    view.objects();
    expect(caches.taken).toBe(2);
    // Once the planned pod is bound nothing is reserved: reuse again.
    caches.pods = [plannedPod('g-0', 'n1')];
    caches.change('pods', plannedPod('g-0', 'n1') as KubeObject);
    view.objects();
    caches.change('pods', pod('other2') as KubeObject);
    view.objects();
    expect(caches.taken).toBe(3);
  });

  it('never reuses with a staleness of 0', () => {
    const caches = new FakeCaches();
    const view = new ExtenderView(caches, 0, () => 0);
    view.objects();
    caches.change('pods', pod('a') as KubeObject);
    view.objects();
    expect(caches.taken).toBe(2);
  });
});
