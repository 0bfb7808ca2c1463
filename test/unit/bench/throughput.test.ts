import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { markdownTable } from '../../../bench/lib/table.ts';
import {
  benchNodes,
  cpuSecondsFromStat,
  EXAMPLE_SCHEDULER_CONFIG,
  phalanxSchedulerConfig,
  SCHEDULER_NAMES,
  stockSchedulerConfig,
} from '../../../bench/lib/throughput-cluster.ts';
import { extenderStats, parseThroughputArgs, QUICK } from '../../../bench/throughput.ts';

const limits = { qps: 1000, burst: 2000 };

describe('scheduler configurations', () => {
  it('b keeps the shipped extender entry and only repoints its urlPrefix', () => {
    const example = readFileSync(EXAMPLE_SCHEDULER_CONFIG, 'utf8');
    const shipped = parse(example) as { extenders: Record<string, unknown>[] } & Record<
      string,
      unknown
    >;
    const b = phalanxSchedulerConfig(example, '/k/sched.kubeconfig', limits, 'http://127.0.0.1:9');
    const config = parse(b.yaml) as typeof shipped;
    expect(b.pathPrefix).toBe('/scheduler');
    expect(config.extenders).toEqual([
      { ...shipped.extenders[0], urlPrefix: 'http://127.0.0.1:9/scheduler' },
    ]);
    expect(config.percentageOfNodesToScore).toBe(shipped.percentageOfNodesToScore);
    expect(config.clientConnection).toEqual({ kubeconfig: '/k/sched.kubeconfig', ...limits });
    expect(config.profiles).toEqual([{ schedulerName: SCHEDULER_NAMES.b }]);
  });

  it('b takes another percentageOfNodesToScore only when asked', () => {
    const example = readFileSync(EXAMPLE_SCHEDULER_CONFIG, 'utf8');
    const b = phalanxSchedulerConfig(example, 'k', limits, 'http://127.0.0.1:9', 100);
    expect((parse(b.yaml) as { percentageOfNodesToScore?: number }).percentageOfNodesToScore).toBe(
      100,
    );
  });

  it('refuses an example without exactly one extender', () => {
    expect(() =>
      phalanxSchedulerConfig('kind: KubeSchedulerConfiguration\n', 'k', limits, 'x'),
    ).toThrow(/exactly one extender/);
  });

  it('a is kube-scheduler defaults with its own profile and the same client limits', () => {
    const a = parse(stockSchedulerConfig('/k', limits)) as Record<string, unknown>;
    expect(a.extenders).toBeUndefined();
    expect(a.percentageOfNodesToScore).toBeUndefined();
    expect(a.clientConnection).toEqual({ kubeconfig: '/k', ...limits });
    expect(a.profiles).toEqual([{ schedulerName: SCHEDULER_NAMES.a }]);
  });
});

describe('benchNodes', () => {
  it('gives n nodes, 16 per rack and 4 racks per block, the last block partial', () => {
    const nodes = benchNodes(200);
    expect(nodes).toHaveLength(200);
    expect(new Set(nodes.map((n) => n.name)).size).toBe(200);
    const racks = new Set(nodes.map((n) => n.labels['topology.phalanx.dev/rack']));
    expect(racks.size).toBe(13);
    expect(nodes.at(-1)?.name).toBe('tp-b3-r0-n7');
  });
});

describe('cpuSecondsFromStat', () => {
  it('adds utime and stime after a command name with spaces and parentheses', () => {
    const stat =
      '4242 (kube (sched) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 12 0 100 0 0';
    expect(cpuSecondsFromStat(stat)).toBe(3.25);
  });

  it('refuses text that is not a stat line', () => {
    expect(() => cpuSecondsFromStat('garbage')).toThrow(/utime and stime/);
  });
});

describe('extenderStats', () => {
  const scrape = (filter: number[], sum: number) =>
    [
      `phalanx_extender_request_duration_seconds_bucket{verb="filter",le="0.001"} ${filter[0]}`,
      `phalanx_extender_request_duration_seconds_bucket{verb="filter",le="0.01"} ${filter[1]}`,
      `phalanx_extender_request_duration_seconds_bucket{verb="filter",le="+Inf"} ${filter[2]}`,
      `phalanx_extender_request_duration_seconds_sum{verb="filter"} ${sum}`,
      `phalanx_extender_request_duration_seconds_count{verb="filter"} ${filter[2]}`,
    ].join('\n');

  it('reports the calls and latency between the two scrapes only', () => {
    const s = extenderStats(scrape([10, 10, 10], 0.005), scrape([60, 110, 110], 0.305));
    expect(s.filter).toEqual({ calls: 100, meanMs: 3, p50Ms: 1, p99Ms: 9.82 });
    expect(s.prioritize).toBeUndefined();
  });
});

describe('parseThroughputArgs', () => {
  it('has the brief defaults', () => {
    const o = parseThroughputArgs([]);
    if (o === 'help') throw new Error('help');
    expect([o.nodes, o.pods, o.rounds, o.layout, o.record]).toEqual([
      256,
      1000,
      3,
      'whole-gpus',
      true,
    ]);
  });

  it('--quick shrinks sizes but explicit flags win', () => {
    const o = parseThroughputArgs(['--quick', '--pods', '300', '--layout', 'plugin']);
    if (o === 'help') throw new Error('help');
    expect([o.nodes, o.pods, o.rounds, o.layout]).toEqual([
      QUICK.nodes,
      300,
      QUICK.rounds,
      'plugin',
    ]);
  });

  it('names the flag in its errors', () => {
    expect(() => parseThroughputArgs(['--layout', 'combined'])).toThrow(/--layout "combined"/);
    expect(() => parseThroughputArgs(['--rounds', '0'])).toThrow(/--rounds 0 is too small/);
  });
});

describe('markdownTable', () => {
  it('writes a header, right-aligned number columns and one line per row', () => {
    const md = markdownTable(
      [{ header: 'variant' }, { header: 'pods/s', align: 'right' }],
      [
        ['a', '80.0'],
        ['b', '76.0'],
      ],
    );
    expect(md.split('\n')).toEqual([
      '| variant | pods/s |',
      '| --- | ---: |',
      '| a | 80.0 |',
      '| b | 76.0 |',
    ]);
  });
});
