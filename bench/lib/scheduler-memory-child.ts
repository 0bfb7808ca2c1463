/**
 * The measured process of `bench/scheduler-memory.ts` (run it through that script): a fresh Node
 * process that loads the `phalanx scheduler` program's modules, streams a synthetic cluster's
 * Nodes and ResourceSlices into the scheduler's own caches ({@link ClusterInformers}, fed by an
 * in-process source instead of an API server), builds the core's snapshot from them and holds
 * it, as the extender does between changes. Memory is read after a full GC at each step.
 *
 *   node --expose-gc [V8 flags] bench/lib/scheduler-memory-child.ts --mode compact|full
 *        --nodes N --slice-page-size P --node-page-size P --profile sxm8-80g [--settle-seconds S]
 *
 * Objects reach the caches the way a list page or a watch event does: serialised to JSON and
 * parsed again (so no string or object is shared with the generator), in batches of the page
 * sizes. Prints one JSON line ({@link ChildReport}) on stdout.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';

export interface MemoryReading {
  /** Step name: `bare`, `modules`, `caches`, `model`, `model, pooled pages released`. */
  readonly step: string;
  /** Bytes, from process.memoryUsage() after a full GC. */
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /** Bytes from /proc/self/status: anonymous and file-backed resident pages; peak RSS so far. */
  readonly rssAnon: number;
  readonly rssFile: number;
  readonly peakRss: number;
  /** Resident pages the process gave back with MADV_FREE (reclaimed only under memory pressure). */
  readonly lazyFree: number;
  /** What V8 itself holds through malloc (compiler zones and such). */
  readonly mallocedByV8: number;
}

export interface ChildReport {
  readonly mode: 'compact' | 'full';
  /** V8 and Node flags the child ran with. */
  readonly execArgv: readonly string[];
  readonly nodes: number;
  readonly slices: number;
  readonly devices: number;
  readonly gpus: number;
  readonly buildMs: number;
  readonly streamMs: number;
  readonly readings: readonly MemoryReading[];
  readonly intern?: unknown;
}

function statusBytes(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  return m?.[1] === undefined ? 0 : Number(m[1]) * 1024;
}

type GcOptions = { type: 'major'; execution: 'sync'; flavor: 'regular' | 'last-resort' };

/**
 * Memory after a full GC. `regular` is the collection V8 runs by itself; `last-resort` also
 * shrinks the young generation and hands pooled heap pages back to the OS, which V8 does only
 * under memory pressure (the difference is memory the process keeps without using it).
 */
function read(step: string, flavor: GcOptions['flavor'] = 'regular'): MemoryReading {
  const gc = (globalThis as { gc?: (options: GcOptions) => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  gc({ type: 'major', execution: 'sync', flavor });
  const m = process.memoryUsage();
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    // not Linux: the /proc figures read 0
  }
  let rollup = '';
  try {
    rollup = readFileSync('/proc/self/smaps_rollup', 'utf8');
  } catch {
    // not Linux
  }
  return {
    step,
    rss: m.rss,
    lazyFree: statusBytes(rollup, 'LazyFree'),
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    rssAnon: statusBytes(status, 'RssAnon'),
    rssFile: statusBytes(status, 'RssFile'),
    peakRss: statusBytes(status, 'VmHWM'),
    mallocedByV8: getHeapStatistics().malloced_memory,
  };
}

/**
 * A quiet process for `seconds`: a timer every 100 ms that allocates a little (about 1 KB/ms, the
 * order of a few watch events and extender calls), so V8's memory reducer sees a low allocation
 * rate and may shrink the heap, as it would in a settled live process.
 */
function settle(seconds: number): Promise<number> {
  return new Promise((resolve) => {
    let allocated = 0;
    const timer = setInterval(() => {
      const batch = Array.from({ length: 1000 }, (_, i) => ({ i, text: `event ${i}` }));
      allocated += batch.length;
    }, 100);
    setTimeout(() => {
      clearInterval(timer);
      resolve(allocated);
    }, seconds * 1000);
  });
}

function options() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      mode: { type: 'string' },
      nodes: { type: 'string' },
      'slice-page-size': { type: 'string' },
      'node-page-size': { type: 'string' },
      profile: { type: 'string' },
      'settle-seconds': { type: 'string' },
    },
  });
  const mode: ChildReport['mode'] = values.mode === 'full' ? 'full' : 'compact';
  return {
    mode,
    nodes: Number(values.nodes ?? '5000'),
    slicePageSize: Number(values['slice-page-size'] ?? '10'),
    nodePageSize: Number(values['node-page-size'] ?? '50'),
    profile: values.profile ?? 'sxm8-80g',
    settleSeconds: Number(values['settle-seconds'] ?? '0'),
  };
}

async function main(): Promise<void> {
  const opts = options();
  const readings: MemoryReading[] = [read('bare')];
  // The scheduler program's whole module graph, as `phalanx scheduler` loads it.
  await import('../../src/cmd/scheduler.ts');
  const { ClusterInformers } = await import('../../src/kube/informer.ts');
  const { silentLogger } = await import('../../src/observability/logger.ts');
  const { buildSnapshot } = await import('../../src/scheduling/snapshot.ts');
  const { ClusterFeed } = await import('./cluster-feed.ts');
  readings.push(read('modules'));

  const feed = new ClusterFeed({
    nodes: opts.nodes,
    profile: opts.profile,
    nodesPerRack: 16,
    racksPerBlock: 8,
    serverMinor: 36,
    slicePageSize: opts.slicePageSize,
    nodePageSize: opts.nodePageSize,
  });
  const informers = new ClusterInformers(undefined, {
    logger: silentLogger(),
    compact: opts.mode === 'compact',
    source: (resource) => feed.source(resource),
  });
  const t0 = performance.now();
  informers.start();
  await informers.waitForSync(60_000);
  await feed.done;
  const streamMs = performance.now() - t0;
  const slices = informers.slices.list();
  const nodes = informers.nodes.list().length;
  if (slices.length !== feed.slicesSent || nodes !== opts.nodes) {
    throw new Error(
      `the caches hold ${slices.length} slices and ${nodes} nodes; ${feed.slicesSent} and ${opts.nodes} were sent`,
    );
  }
  readings.push(read('caches'));

  const t1 = performance.now();
  const snapshot = buildSnapshot(informers.snapshot(), { now: Date.now() });
  const buildMs = performance.now() - t1;
  readings.push(read('model'));
  if (opts.settleSeconds > 0) {
    await settle(opts.settleSeconds);
    readings.push(read(`model, ${opts.settleSeconds} s later`));
  }
  readings.push(read('model, pooled pages released', 'last-resort'));

  const report: ChildReport = {
    mode: opts.mode,
    execArgv: process.execArgv,
    nodes: snapshot.model.nodes.length,
    slices: slices.length,
    devices: slices.reduce((n, s) => n + (s.spec.devices?.length ?? 0), 0),
    gpus: snapshot.model.nodes.reduce((n, node) => n + node.gpuCount, 0),
    buildMs,
    streamMs,
    readings,
    ...(opts.mode === 'compact' ? { intern: informers.sliceInternStats() } : {}),
  };
  await informers.stop();
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `scheduler-memory child: ${err instanceof Error ? err.stack : String(err)}\n`,
  );
  process.exitCode = 1;
});
