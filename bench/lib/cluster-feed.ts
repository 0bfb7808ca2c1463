/**
 * An in-process stand-in for the API server that streams a synthetic cluster into the scheduler's
 * caches: `source(resource)` is a {@link ListWatchSource} for {@link ClusterInformers}. Nodes and
 * ResourceSlices arrive as watch ADDED events after an empty list, as JSON text parsed in batches
 * of `slicePageSize` / `nodePageSize` objects (as list pages arrive), so the caches hold
 * only what they keep of each object and at most one batch exists as received at any time.
 *
 * The text is what the real builders give, made cheaply so that the benchmark's own garbage does
 * not blur the measurement: a node's slices are the first node's slice text with the node name and
 * the GPU UUIDs (the only parts that differ between nodes of one profile) replaced
 * ({@link sliceTexts}); Nodes are kubelet-sized (kubelet-node.ts) with the synthetic cluster's
 * topology labels. Every other resource lists empty and stays quiet.
 */
import { fakeGpuUuid } from '../../src/devices/fake/profiles.ts';
import type { ListPage, ListWatchSource, ResourceType } from '../../src/kube/informer.ts';
import { kubeletNode } from './kubelet-node.ts';
import {
  type SyntheticClusterSpec,
  syntheticNode,
  syntheticNodeName,
  syntheticNodeSlices,
} from './synthetic-cluster.ts';

export interface ClusterFeedSpec extends Omit<SyntheticClusterSpec, 'name'> {
  /** Objects per parsed batch, per resource. */
  readonly slicePageSize: number;
  readonly nodePageSize: number;
}

/** The JSON text of each slice of node `i`, from the first node's by replacing what differs. */
export function sliceTexts(spec: ClusterFeedSpec): (i: number) => readonly string[] {
  const first = syntheticNodeSlices(spec, 0);
  const texts = first.map((s) => JSON.stringify(s));
  const gpus = new Set<number>();
  for (const s of first) {
    for (const d of s.spec.devices ?? []) {
      const index = d.attributes?.index?.int;
      if (index !== undefined) gpus.add(index);
    }
  }
  const name0 = syntheticNodeName(0);
  return (i) => {
    if (i === 0) return texts;
    const name = syntheticNodeName(i);
    return texts.map((text) => {
      let out = text;
      for (const g of gpus) out = out.replaceAll(fakeGpuUuid(name0, g), fakeGpuUuid(name, g));
      return out.replaceAll(name0, name);
    });
  };
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

type Generate = (emit: (batchText: string) => void) => Promise<void>;

/** One resource: an empty list, then (once) the generated objects, then silence. */
class FeedSource<T> implements ListWatchSource<T> {
  readonly description: string;
  readonly #generate: Generate | undefined;
  #streamed = false;

  constructor(description: string, generate: Generate | undefined) {
    this.description = description;
    this.#generate = generate;
  }

  list(): Promise<ListPage<T>> {
    return Promise.resolve({ items: [], resourceVersion: '1' });
  }

  async watch(
    _resourceVersion: string,
    onEvent: (type: string, object: unknown) => void,
    signal: AbortSignal,
  ): Promise<void> {
    if (this.#generate !== undefined && !this.#streamed) {
      this.#streamed = true;
      await this.#generate((batchText) => {
        for (const object of JSON.parse(batchText) as unknown[]) onEvent('ADDED', object);
      });
    }
    await untilAborted(signal);
  }
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class ClusterFeed {
  readonly #spec: ClusterFeedSpec;
  readonly #finished: Promise<void>[] = [];
  #slicesSent = 0;

  constructor(spec: ClusterFeedSpec) {
    this.#spec = spec;
  }

  /** ResourceSlices sent so far. */
  get slicesSent(): number {
    return this.#slicesSent;
  }

  /** Resolves when the nodes and the slices have all been sent (after both sources started). */
  get done(): Promise<void> {
    return Promise.all(this.#finished).then(() => undefined);
  }

  source<T>(resource: ResourceType): ListWatchSource<T> {
    const description = `${resource.plural} (synthetic)`;
    if (resource.plural === 'nodes') {
      return this.#stream<T>(description, this.#spec.nodePageSize, (i) => {
        const node = syntheticNode(this.#spec, i);
        const name = node.metadata.name ?? '';
        return [
          JSON.stringify(kubeletNode({ name, index: i, labels: node.metadata.labels ?? {} })),
        ];
      });
    }
    if (resource.plural === 'resourceslices') {
      const ofNode = sliceTexts(this.#spec);
      return this.#stream<T>(description, this.#spec.slicePageSize, (i) => {
        const texts = ofNode(i);
        this.#slicesSent += texts.length;
        return texts;
      });
    }
    return new FeedSource<T>(description, undefined);
  }

  #stream<T>(
    description: string,
    pageSize: number,
    ofNode: (i: number) => readonly string[],
  ): FeedSource<T> {
    let finish: () => void = () => {};
    this.#finished.push(new Promise<void>((resolve) => (finish = resolve)));
    const { nodes } = this.#spec;
    return new FeedSource<T>(description, async (emit) => {
      let batch: string[] = [];
      for (let i = 0; i < nodes; i++) {
        for (const text of ofNode(i)) batch.push(text);
        if (batch.length < pageSize && i < nodes - 1) continue;
        emit(`[${batch.join(',')}]`);
        batch = [];
        await yieldToLoop();
      }
      finish();
    });
  }
}
