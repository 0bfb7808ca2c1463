/**
 * `npm run bench:plugin`: NodePrepareResources / NodeUnprepareResources latency of the kubelet
 * plugin, driven like the kubelet drives it (gRPC over the real unix socket), with the real
 * checkpoint journal appends (O_DSYNC) and CDI spec writes (temp file + rename) on a
 * disk-backed directory.
 *
 * Scenarios, each after a warm-up:
 *   seq-1   a claim of 1 whole GPU: prepare, then unprepare, one call at a time
 *   seq-8   a claim of all 8 GPUs: the same
 *   conc    N single-partition (1g.10gb) claims prepared at once as N separate calls (N pods
 *           admitted together), then unprepared at once; rounds until ≥ --iterations prepares
 * plus baselines measured in the same run: a gRPC call with no claims, and the bare disk
 * primitives (fsync of a small file, fsync of a directory, the plugin's atomic replace).
 *
 * `--topology process` (default) runs the plugin in a child process of its own, as in a cluster
 * where the kubelet is a separate process; `--topology inline` runs client and plugin in this one
 * process (`lib/plugin-topology.ts`).
 *
 * Every prepare uses a fresh claim UID, so each one writes a new CDI spec file. The plugin reads
 * the claim's allocation from its name, in memory: the API server GET (one per claim in a
 * cluster) is NOT included.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeGpuBackend } from '../src/devices/fake/backend.ts';
import {
  partitionDeviceName,
  partitionPlacements,
  wholeGpuDeviceName,
} from '../src/devices/naming.ts';
import type { ClaimRef } from '../src/driver/types.ts';
import { type BenchArgs, type BenchDefaults, parseBenchArgs, usage } from './lib/args.ts';
import { claimRefOf } from './lib/claim-names.ts';
import {
  type DiskBaselineSamples,
  makeScratchDir,
  measureDiskBaseline,
  removeScratchDir,
} from './lib/disk.ts';
import {
  type FilesystemInfo,
  type MachineInfo,
  machineInfo,
  shortHostName,
} from './lib/machine.ts';
import { PhaseTimer } from './lib/phases.ts';
import { DURABLE_PREPARE_PHASES, PHASE, type PluginStats } from './lib/plugin-rig.ts';
import {
  describeTopology,
  type PluginUnderTest,
  startPluginUnderTest,
  type Topology,
  takeTopologyFlag,
} from './lib/plugin-topology.ts';
import {
  describeInput,
  formatWithBiome,
  pathsInside,
  type ResultEnvelope,
  resultEnvelope,
  writeResult,
} from './lib/record.ts';
import {
  ratePerSecond,
  roundForReport,
  roundSummary,
  type Summary,
  summarize,
} from './lib/stats.ts';
import { formatMs, formatRate, formatTable } from './lib/table.ts';

const BENCHMARK = 'plugin-prepare';
const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULTS: BenchDefaults = {
  iterations: 1000,
  concurrency: 32,
  warmup: 100,
  out: join(REPO_ROOT, 'bench', 'results'),
};
const NODE_NAME = 'bench-node';
const PROFILE = 'sxm8-80g';
const GPUS = 8;
const PARTITION_PROFILE = '1g.10gb';
const NAMESPACE = 'bench';
/** Size of the files in the disk baseline: about a 1-device CDI spec or a small checkpoint. */
const BASELINE_FILE_BYTES = 2048;
const TARGET = { scenario: 'seq-8', metric: 'p99', thresholdMs: 5 } as const;
const API_NOTE =
  'The API server GET of each ResourceClaim is excluded: the plugin builds each claim in memory from its name, which encodes the allocated devices (a fresh object per GET, no I/O). In a cluster each prepare adds one GET per claim.';

// ---- claims ------------------------------------------------------------------------------------

/**
 * Makes claims with fresh UIDs. The allocation travels in the claim name (`lib/claim-names.ts`),
 * so the plugin, in whichever process it runs, answers its claim GET without asking us.
 */
class ClaimFactory {
  #next = 1;

  make(request: string, devices: readonly string[]): ClaimRef {
    return claimRefOf(NAMESPACE, { n: this.#next++, request, devices });
  }
}

// ---- calls -------------------------------------------------------------------------------------

/** One NodePrepareResources call for one claim; throws unless the claim got `devices` devices. */
async function prepareOne(
  plugin: PluginUnderTest,
  ref: ClaimRef,
  devices: number,
): Promise<number> {
  const started = performance.now();
  const response = await plugin.client.prepare([ref]);
  const elapsed = performance.now() - started;
  const entry = response.claims[ref.uid];
  if (entry?.error !== undefined && entry.error !== '')
    throw new Error(`prepare of ${ref.name} failed: ${entry.error}`);
  const got = entry?.devices?.length ?? 0;
  if (got !== devices)
    throw new Error(`prepare of ${ref.name} returned ${got} devices, expected ${devices}`);
  return elapsed;
}

async function unprepareOne(plugin: PluginUnderTest, ref: ClaimRef): Promise<number> {
  const started = performance.now();
  const response = await plugin.client.unprepare([ref]);
  const elapsed = performance.now() - started;
  const error = response.claims[ref.uid]?.error;
  if (error !== undefined && error !== '')
    throw new Error(`unprepare of ${ref.name} failed: ${error}`);
  return elapsed;
}

// ---- scenarios ---------------------------------------------------------------------------------

interface PhaseRow {
  readonly phase: string;
  readonly summary: Summary;
}

interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly devicesPerClaim: number;
  readonly inFlight: number;
  readonly prepare: Summary;
  readonly unprepare: Summary;
  readonly prepareCallsPerSecond: number;
  readonly unprepareCallsPerSecond: number;
  readonly phases: readonly PhaseRow[];
  /**
   * Wall time per prepare during which a durable write (checkpoint or CDI) was running, overlap
   * counted once; for `conc`, per burst of prepares divided by the prepares in it.
   */
  readonly durableMsPerPrepare: number;
  /** That time as a share of the prepare time (sequential) or of the burst wall time (conc). */
  readonly durableShare: number;
  /** Checkpoint file writes per prepare+unprepare cycle (3 unbatched; group commit lowers it). */
  readonly checkpointWritesPerCycle: number;
  /** Bytes of one claim's CDI spec and of the checkpoint while that claim is prepared. */
  readonly bytes: { readonly cdiSpec: number; readonly checkpoint: number };
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** Sizes of the files one prepared claim produces (measured once, outside the timings). */
async function fileSizes(
  plugin: PluginUnderTest,
  factory: ClaimFactory,
  devices: readonly string[],
) {
  const ref = factory.make('gpu', devices);
  await prepareOne(plugin, ref, devices.length);
  const sizes = await plugin.fileSizes(ref.uid);
  await unprepareOne(plugin, ref);
  return sizes;
}

/** The plugin's phases and checkpoint writes since the last reset, read after a scenario. */
async function pluginSide(
  plugin: PluginUnderTest,
): Promise<{ phases: PhaseTimer; writes: number }> {
  const stats: PluginStats = await plugin.collectStats();
  return { phases: PhaseTimer.from(stats.phases), writes: stats.checkpointWrites };
}

async function sequential(
  plugin: PluginUnderTest,
  factory: ClaimFactory,
  spec: { id: string; title: string; request: string; devices: readonly string[] },
  args: BenchArgs,
): Promise<ScenarioResult> {
  const bytes = await fileSizes(plugin, factory, spec.devices);
  const prepare: number[] = [];
  const unprepare: number[] = [];
  for (let i = 0; i < args.warmup + args.iterations; i++) {
    if (i === args.warmup) await plugin.resetStats();
    const ref = factory.make(spec.request, spec.devices);
    const p = await prepareOne(plugin, ref, spec.devices.length);
    const u = await unprepareOne(plugin, ref);
    if (i < args.warmup) continue;
    prepare.push(p);
    unprepare.push(u);
  }
  const side = await pluginSide(plugin);
  return {
    id: spec.id,
    title: spec.title,
    devicesPerClaim: spec.devices.length,
    inFlight: 1,
    prepare: summarize(prepare),
    unprepare: summarize(unprepare),
    prepareCallsPerSecond: ratePerSecond(prepare.length, sum(prepare)),
    unprepareCallsPerSecond: ratePerSecond(unprepare.length, sum(unprepare)),
    phases: orderedPhases(side.phases),
    durableMsPerPrepare: side.phases.coveredMs(DURABLE_PREPARE_PHASES) / prepare.length,
    durableShare: side.phases.coveredMs(DURABLE_PREPARE_PHASES) / sum(prepare),
    checkpointWritesPerCycle: side.writes / prepare.length,
    bytes,
  };
}

/** The first `count` placements of the partition profile across the node's GPUs. */
function partitionDevices(count: number): string[] {
  const names = new FakeGpuBackend(NODE_NAME, { profile: PROFILE })
    .inventory()
    .gpus.flatMap((gpu) => partitionPlacements(gpu))
    .filter((p) => p.profile.name === PARTITION_PROFILE)
    .map((p) => partitionDeviceName(p.gpuIndex, p.profile.name, p.start));
  if (names.length < count)
    throw new Error(
      `--concurrency ${count} needs ${count} distinct ${PARTITION_PROFILE} partitions but a ${PROFILE} node has ${names.length}; use --concurrency ${names.length} or less`,
    );
  return names.slice(0, count);
}

/** One round: prepare every slot at once, then unprepare every slot at once. */
async function round(plugin: PluginUnderTest, factory: ClaimFactory, slots: readonly string[]) {
  const refs = slots.map((device) => factory.make('gpu', [device]));
  const t0 = performance.now();
  const prepare = await Promise.all(refs.map((ref) => prepareOne(plugin, ref, 1)));
  const t1 = performance.now();
  const unprepare = await Promise.all(refs.map((ref) => unprepareOne(plugin, ref)));
  const t2 = performance.now();
  return { prepare, unprepare, prepareWall: t1 - t0, unprepareWall: t2 - t1 };
}

async function concurrent(
  plugin: PluginUnderTest,
  factory: ClaimFactory,
  slots: readonly string[],
  args: BenchArgs,
): Promise<ScenarioResult> {
  const bytes = await fileSizes(plugin, factory, [slots[0] ?? '']);
  const warmupRounds = Math.ceil(args.warmup / args.concurrency);
  const rounds = Math.ceil(args.iterations / args.concurrency);
  for (let i = 0; i < warmupRounds; i++) await round(plugin, factory, slots);
  await plugin.resetStats();
  const prepare: number[] = [];
  const unprepare: number[] = [];
  let prepareWall = 0;
  let unprepareWall = 0;
  for (let i = 0; i < rounds; i++) {
    const r = await round(plugin, factory, slots);
    prepare.push(...r.prepare);
    unprepare.push(...r.unprepare);
    prepareWall += r.prepareWall;
    unprepareWall += r.unprepareWall;
  }
  const side = await pluginSide(plugin);
  return {
    id: 'conc',
    title: `1 partition per claim, ${args.concurrency} calls in flight`,
    devicesPerClaim: 1,
    inFlight: args.concurrency,
    prepare: summarize(prepare),
    unprepare: summarize(unprepare),
    prepareCallsPerSecond: ratePerSecond(prepare.length, prepareWall),
    unprepareCallsPerSecond: ratePerSecond(unprepare.length, unprepareWall),
    phases: orderedPhases(side.phases),
    durableMsPerPrepare: side.phases.coveredMs(DURABLE_PREPARE_PHASES) / prepare.length,
    durableShare: side.phases.coveredMs(DURABLE_PREPARE_PHASES) / prepareWall,
    checkpointWritesPerCycle: side.writes / prepare.length,
    bytes,
  };
}

const PHASE_ORDER: readonly string[] = Object.values(PHASE);

/** The plugin's phases in pipeline order (they are recorded in completion order). */
function orderedPhases(phases: PhaseTimer): PhaseRow[] {
  const rank = (phase: string): number => {
    const i = PHASE_ORDER.indexOf(phase);
    return i < 0 ? PHASE_ORDER.length : i;
  };
  return phases.summaries().sort((a, b) => rank(a.phase) - rank(b.phase));
}

/** NodePrepareResources with no claims: the gRPC round trip and request handling alone. */
async function grpcBaseline(plugin: PluginUnderTest, args: BenchArgs): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < args.warmup + args.iterations; i++) {
    const started = performance.now();
    await plugin.client.prepare([]);
    if (i >= args.warmup) samples.push(performance.now() - started);
  }
  return samples;
}

// ---- report ------------------------------------------------------------------------------------

interface Measurements {
  readonly scenarios: readonly ScenarioResult[];
  readonly grpc: Summary;
  readonly disk: { readonly [K in keyof DiskBaselineSamples]: Summary };
}

const COLUMNS = [
  { header: 'scenario' },
  { header: 'n', align: 'right' },
  { header: 'p50 ms', align: 'right' },
  { header: 'p90 ms', align: 'right' },
  { header: 'p99 ms', align: 'right' },
  { header: 'max ms', align: 'right' },
  { header: 'mean ms', align: 'right' },
  { header: 'calls/s', align: 'right' },
] as const;

function row(name: string, s: Summary, rate: number): string[] {
  return [
    name,
    String(s.n),
    formatMs(s.p50),
    formatMs(s.p90),
    formatMs(s.p99),
    formatMs(s.max),
    formatMs(s.mean),
    formatRate(rate),
  ];
}

const seqRate = (s: Summary): number => ratePerSecond(s.n, s.mean * s.n);

function latencyTable(m: Measurements): string {
  const rows: string[][] = [];
  for (const s of m.scenarios) {
    rows.push(row(`prepare   ${s.title}`, s.prepare, s.prepareCallsPerSecond));
    rows.push(row(`unprepare ${s.title}`, s.unprepare, s.unprepareCallsPerSecond));
  }
  rows.push(row('baseline  gRPC call with no claims', m.grpc, seqRate(m.grpc)));
  rows.push(
    row(
      `baseline  fsync of a new ${BASELINE_FILE_BYTES} B file`,
      m.disk.fileFsync,
      seqRate(m.disk.fileFsync),
    ),
  );
  rows.push(row('baseline  fsync of the directory', m.disk.dirFsync, seqRate(m.disk.dirFsync)));
  rows.push(
    row(
      'baseline  atomic replace (tmp+fsync+rename+dir fsync)',
      m.disk.atomicWrite,
      seqRate(m.disk.atomicWrite),
    ),
  );
  return formatTable(COLUMNS, rows);
}

function phaseTable(s: ScenarioResult): string {
  const handler =
    s.phases.find((p) => p.phase === PHASE.prepareHandler)?.summary.mean ?? Number.NaN;
  const rows = s.phases.map((p) => [
    p.phase,
    String(p.summary.n),
    formatMs(p.summary.p50),
    formatMs(p.summary.p99),
    formatMs(p.summary.mean),
    p.phase.startsWith('prepare:') ? `${Math.round((100 * p.summary.mean) / handler)}%` : '',
  ]);
  return formatTable(
    [
      { header: `phase (${s.id}: ${s.title})` },
      { header: 'n', align: 'right' },
      { header: 'p50 ms', align: 'right' },
      { header: 'p99 ms', align: 'right' },
      { header: 'mean ms', align: 'right' },
      { header: 'of prepare', align: 'right' },
    ],
    rows,
  );
}

interface Derived {
  readonly target: {
    scenario: string;
    metric: string;
    thresholdMs: number;
    valueMs: number;
    met: boolean;
  };
  /** prepare p50 divided by the bare file fsync p50, per scenario. */
  readonly prepareP50OverFsyncP50: Record<string, number>;
  /** The plugin's atomic replace p50 divided by the bare file fsync p50. */
  readonly atomicWriteP50OverFsyncP50: number;
}

function derive(m: Measurements): Derived {
  const seq8 = m.scenarios.find((s) => s.id === TARGET.scenario);
  const valueMs = seq8?.prepare.p99 ?? Number.NaN;
  const ratio: Record<string, number> = {};
  for (const s of m.scenarios) ratio[s.id] = roundForReport(s.prepare.p50 / m.disk.fileFsync.p50);
  return {
    target: { ...TARGET, valueMs: roundForReport(valueMs), met: valueMs < TARGET.thresholdMs },
    prepareP50OverFsyncP50: ratio,
    atomicWriteP50OverFsyncP50: roundForReport(m.disk.atomicWrite.p50 / m.disk.fileFsync.p50),
  };
}

function printReport(r: Run, d: Derived): void {
  const { m } = r;
  const out: string[] = [];
  const where =
    r.topology === 'process' ? `plugin process ${r.pluginPid}` : `plugin in this process`;
  out.push(
    '',
    `NodePrepareResources latency, kubelet client → plugin over a unix socket; data dir on ${r.storageLine}`,
    `Topology ${r.topology} (${where}): ${describeTopology(r.topology)}`,
  );
  out.push(`Note: ${API_NOTE}`, '', latencyTable(m), '');
  for (const s of m.scenarios) out.push(phaseTable(s), '');
  for (const s of m.scenarios)
    out.push(
      `${s.id}: CDI spec ${s.bytes.cdiSpec} B, checkpoint ${s.bytes.checkpoint} B; durable writes (checkpoint + CDI, overlap counted once) ${formatMs(s.durableMsPerPrepare)} ms per prepare = ${Math.round(s.durableShare * 100)}% of ${s.inFlight === 1 ? 'prepare time' : 'burst wall time'}; ${s.checkpointWritesPerCycle.toFixed(2)} checkpoint writes per prepare+unprepare`,
    );
  for (const [id, r] of Object.entries(d.prepareP50OverFsyncP50))
    out.push(`prepare p50 / bare fsync p50 (${id}): ${r.toFixed(1)}×`);
  out.push(`atomic replace p50 / bare fsync p50: ${d.atomicWriteP50OverFsyncP50.toFixed(1)}×`);
  const t = d.target;
  out.push(
    '',
    `p99 8-device: ${formatMs(t.valueMs)} ms (target < ${t.thresholdMs} ms): ${t.met ? 'met' : 'missed'}`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

function headline(r: Run, d: Derived): string {
  const { m } = r;
  const by = (id: string) => m.scenarios.find((s) => s.id === id);
  const s1 = by('seq-1')?.prepare;
  const s8 = by('seq-8')?.prepare;
  const c = by('conc');
  return [
    `topology ${r.topology}: prepare 1 dev p50/p99 ${formatMs(s1?.p50 ?? Number.NaN)}/${formatMs(s1?.p99 ?? Number.NaN)} ms`,
    `8 dev ${formatMs(s8?.p50 ?? Number.NaN)}/${formatMs(s8?.p99 ?? Number.NaN)} ms (target p99 < 5 ms ${d.target.met ? 'met' : 'missed'})`,
    `${c?.inFlight ?? 0} in flight ${formatRate(c?.prepareCallsPerSecond ?? Number.NaN)} calls/s`,
    `fsync p50 ${formatMs(m.disk.fileFsync.p50)} ms`,
  ].join('; ');
}

// ---- main --------------------------------------------------------------------------------------

function scenarioParameters(args: BenchArgs, topology: Topology): Record<string, unknown> {
  return {
    benchmark: BENCHMARK,
    topology,
    nodeName: NODE_NAME,
    profile: PROFILE,
    iterations: args.iterations,
    warmup: args.warmup,
    concurrency: args.concurrency,
    scenarios: {
      'seq-1': { devices: [wholeGpuDeviceName(0)], inFlight: 1 },
      'seq-8': {
        devices: Array.from({ length: GPUS }, (_, i) => wholeGpuDeviceName(i)),
        inFlight: 1,
      },
      conc: {
        devices: `first ${args.concurrency} ${PARTITION_PROFILE} placements in publishing order`,
        inFlight: args.concurrency,
        rounds: Math.ceil(args.iterations / args.concurrency),
      },
    },
    claimUids: 'uidOf(n), n = 1, 2, ... in run order (a fresh UID per prepare)',
    claimNames: 'c<n>.<request>.<device>... (the allocation, read by the plugin)',
    diskBaselineFileBytes: BASELINE_FILE_BYTES,
  };
}

async function measure(
  plugin: PluginUnderTest,
  args: BenchArgs,
  scratch: string,
): Promise<Measurements> {
  const slots = partitionDevices(args.concurrency); // fails fast on a too-large --concurrency
  const disk = await measureDiskBaseline(scratch, args.iterations, BASELINE_FILE_BYTES);
  const grpc = await grpcBaseline(plugin, args);
  const factory = new ClaimFactory();
  const whole = Array.from({ length: GPUS }, (_, i) => wholeGpuDeviceName(i));
  const seq1 = await sequential(
    plugin,
    factory,
    {
      id: 'seq-1',
      title: '1 GPU per claim, sequential',
      request: 'gpu',
      devices: [whole[0] ?? 'gpu-0'],
    },
    args,
  );
  const seq8 = await sequential(
    plugin,
    factory,
    { id: 'seq-8', title: '8 GPUs per claim, sequential', request: 'gpus', devices: whole },
    args,
  );
  const conc = await concurrent(plugin, factory, slots, args);
  return {
    scenarios: [seq1, seq8, conc],
    grpc: summarize(grpc),
    disk: {
      fileFsync: summarize(disk.fileFsync),
      dirFsync: summarize(disk.dirFsync),
      atomicWrite: summarize(disk.atomicWrite),
    },
  };
}

function roundedScenario(s: ScenarioResult) {
  return {
    ...s,
    prepare: roundSummary(s.prepare),
    unprepare: roundSummary(s.unprepare),
    prepareCallsPerSecond: roundForReport(s.prepareCallsPerSecond),
    unprepareCallsPerSecond: roundForReport(s.unprepareCallsPerSecond),
    durableMsPerPrepare: roundForReport(s.durableMsPerPrepare),
    durableShare: roundForReport(s.durableShare),
    checkpointWritesPerCycle: roundForReport(s.checkpointWritesPerCycle),
    phases: s.phases.map((p) => ({ phase: p.phase, summary: roundSummary(p.summary) })),
  };
}

const USAGE_TOPOLOGY = `  --topology T     process: the plugin in a child process of its own, as in a cluster (default)
                   inline: client and plugin in this one process and event loop (for comparison)`;

interface Run {
  readonly topology: Topology;
  readonly pluginPid: number;
  readonly startedAt: Date;
  readonly machineAtStart: MachineInfo;
  readonly storage: FilesystemInfo;
  /** The filesystem and the scratch directory, for the printed report. */
  readonly storageLine: string;
  readonly m: Measurements;
}

/** Starts the plugin in `topology` on a fresh scratch directory, measures, and cleans up. */
async function run(args: BenchArgs, topology: Topology): Promise<Run> {
  const startedAt = new Date();
  const machineAtStart = machineInfo();
  const scratch = await makeScratchDir('phalanx-bench-', args.dataDir, REPO_ROOT);
  const fs = scratch.filesystem;
  process.stdout.write(
    `${BENCHMARK}: topology ${topology}, ${args.iterations} iterations, warm-up ${args.warmup}, ${args.concurrency} in flight; ${machineAtStart.cpuCount} × ${machineAtStart.cpuModel}, load ${machineAtStart.loadAverage.join(' ')}\n`,
  );
  try {
    const plugin = await startPluginUnderTest({
      topology,
      root: join(scratch.path, 'plugin'),
      nodeName: NODE_NAME,
      profile: PROFILE,
    });
    try {
      const m = await measure(plugin, args, scratch.path);
      const storageLine = `${fs.fsType} (${fs.source} at ${fs.mountPoint}, ${scratch.path})`;
      const { pluginPid } = plugin;
      return { topology, pluginPid, startedAt, machineAtStart, storage: fs, storageLine, m };
    } finally {
      await plugin.close();
    }
  } finally {
    await removeScratchDir(scratch);
  }
}

function resultOf(r: Run, args: BenchArgs, d: Derived): ResultEnvelope & Record<string, unknown> {
  return {
    ...resultEnvelope({
      benchmark: BENCHMARK,
      root: REPO_ROOT,
      startedAt: r.startedAt,
      machineAtStart: r.machineAtStart,
      packages: ['@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs'],
      input: describeInput(
        'NodePrepareResources then NodeUnprepareResources over the plugin unix socket with the fake sxm8-80g backend; claims allocated to the node pool, built in memory from their names',
        scenarioParameters(args, r.topology),
      ),
      notes: [
        API_NOTE,
        `Topology ${r.topology}: ${describeTopology(r.topology)}.`,
        'Latency is measured in the client around each gRPC call (kubelet view): request encode, unix socket, server handling incl. checkpoint and CDI fsyncs, response decode.',
        'Percentiles by nearest rank; times in milliseconds.',
      ],
    }),
    topology: { mode: r.topology, description: describeTopology(r.topology) },
    storage: r.storage,
    scenarios: r.m.scenarios.map(roundedScenario),
    baselines: {
      grpcNoClaims: roundSummary(r.m.grpc),
      fileFsync: roundSummary(r.m.disk.fileFsync),
      dirFsync: roundSummary(r.m.disk.dirFsync),
      atomicWrite: roundSummary(r.m.disk.atomicWrite),
      fileBytes: BASELINE_FILE_BYTES,
    },
    ...d,
  };
}

async function main(): Promise<void> {
  const { topology, rest } = takeTopologyFlag(process.argv.slice(2));
  const args = parseBenchArgs(rest, DEFAULTS);
  if (args.help) {
    process.stdout.write(`${usage('npm run bench:plugin --', DEFAULTS)}\n${USAGE_TOPOLOGY}\n`);
    return;
  }
  const r = await run(args, topology);
  const d = derive(r.m);
  printReport(r, d);
  if (!args.record) return;
  const result = resultOf(r, args, d);
  const host = shortHostName(r.machineAtStart.hostname);
  let formatted = true;
  const path = writeResult(args.out, result, host, headline(r, d), (paths) => {
    formatted = formatWithBiome(REPO_ROOT, paths) || pathsInside(REPO_ROOT, paths).length === 0;
  });
  process.stdout.write(
    `recorded ${path}${formatted ? '' : ' (not formatted: run npm run format)'}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${BENCHMARK}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
