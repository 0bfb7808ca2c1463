/**
 * The simulation report in a real browser: a report rendered from real replays (and a gang-shaped
 * input for the bar and stacked charts) is loaded in headless Chromium. `--dump-dom` shows every
 * plot's <svg> with its series and legend text as the browser parsed them; the DevTools protocol
 * (over --remote-debugging-pipe) then checks layout: each chart has a size, every series path has
 * length, legend labels neither overlap nor leave the chart, and each SVG part parses on its own
 * as XML. Needs no cluster; skips, saying why, when Chromium is not installed
 * (hack/install-chromium.sh installs it).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openbReportInput } from '../../src/simulator/html/openb-report.ts';
import { type ReportInput, renderReport } from '../../src/simulator/html/report.ts';
import { loadTrace, simulate } from '../../src/simulator/run.ts';

const ROOT = join(import.meta.dirname, '..', '..');

function findChromium(): { path?: string; reason: string } {
  const found = spawnSync('bash', [join(ROOT, 'hack', 'install-chromium.sh'), '--print'], {
    encoding: 'utf8',
  });
  const path = found.stdout.trim();
  if (found.status === 0 && path !== '') return { path, reason: '' };
  return {
    reason: 'chromium is not installed; run hack/install-chromium.sh (needs apt-get and root)',
  };
}

const chromium = findChromium();
if (chromium.path === undefined) console.warn(`report-render: skipped: ${chromium.reason}`);
const BROWSER_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--mute-audio',
];

let dir = '';

function smallTrace(): { nodes: string; pods: string } {
  const nodes = join(dir, 'nodes.csv');
  const pods = join(dir, 'pods.csv');
  const nodeRows = Array.from(
    { length: 12 },
    (_, i) => `n${i},32000,131072,${[1, 2, 4, 8][i % 4]},${i < 6 ? 'T4' : 'V100M32'}`,
  );
  const podRows = Array.from({ length: 60 }, (_, i) => {
    const gpus = [1, 1, 1, 2, 4][i % 5] ?? 1;
    const milli = gpus === 1 ? [250, 500, 1000][i % 3] : 1000;
    return `p${i},${1000 + (i % 4) * 1000},4096,${gpus},${milli}`;
  });
  writeFileSync(nodes, ['sn,cpu_milli,memory_mib,gpu,model', ...nodeRows, ''].join('\n'));
  writeFileSync(pods, ['name,cpu_milli,memory_mib,num_gpu,gpu_milli', ...podRows, ''].join('\n'));
  return { nodes, pods };
}

function gangShaped(): ReportInput {
  return {
    title: 'Gang-shaped report',
    run: {
      workload: 'gang workload replay',
      policies: ['phalanx', 'first-fit'],
      seeds: [1],
      overlay: { description: 'gangs of 2–8 pods over the trace', seed: 9 },
    },
    summary: { headers: ['queue', 'p50 wait s'], rows: [['research', '12.0']] },
    waiting: {
      title: 'Waiting time',
      charts: [
        {
          kind: 'bars',
          id: 'waiting',
          title: 'Waiting time per queue',
          description: 'p50 and p95.',
          categories: ['research', 'prod', 'batch'],
          yLabel: 'seconds',
          series: [
            { label: 'phalanx p50', values: [12, 3, 40] },
            { label: 'first-fit p50', values: [30, 5, undefined] },
          ],
        },
      ],
    },
    locality: {
      title: 'Topology locality',
      charts: [
        {
          kind: 'stacked',
          id: 'locality',
          title: 'Narrowest domain holding each gang',
          description: 'Share of gangs.',
          categories: ['phalanx', 'first-fit'],
          yLabel: 'gangs',
          normalise: true,
          stacks: [
            { label: 'node', values: [10, 2] },
            { label: 'rack', values: [5, 4] },
            { label: 'block', values: [1, 6] },
          ],
        },
      ],
    },
  };
}

/** A minimal DevTools-protocol client over --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-framed JSON). */
class Cdp {
  readonly #proc: ChildProcess;
  readonly #out: Writable;
  #nextId = 1;
  #buffer = '';
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  readonly #waiters: { method: string; resolve: () => void }[] = [];
  stderr = '';

  constructor(browser: string, profile: string) {
    this.#proc = spawn(
      browser,
      [...BROWSER_FLAGS, '--remote-debugging-pipe', `--user-data-dir=${profile}`, 'about:blank'],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    const [, , err, toBrowser, fromBrowser] = this.#proc.stdio;
    this.#out = toBrowser as Writable;
    (err as Readable).on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    (fromBrowser as Readable).on('data', (d: Buffer) => this.#receive(d.toString()));
  }

  #receive(chunk: string): void {
    this.#buffer += chunk;
    let end = this.#buffer.indexOf('\0');
    while (end >= 0) {
      const message = JSON.parse(this.#buffer.slice(0, end)) as {
        id?: number;
        method?: string;
        result?: unknown;
        error?: { message: string };
      };
      this.#buffer = this.#buffer.slice(end + 1);
      end = this.#buffer.indexOf('\0');
      if (message.id !== undefined) {
        const p = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.error !== undefined) p?.reject(new Error(message.error.message));
        else p?.resolve(message.result);
      } else if (message.method !== undefined) {
        const i = this.#waiters.findIndex((w) => w.method === message.method);
        if (i >= 0) this.#waiters.splice(i, 1)[0]?.resolve();
      }
    }
  }

  send<T>(method: string, params: object = {}, sessionId?: string): Promise<T> {
    const id = this.#nextId++;
    this.#out.write(
      `${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`,
    );
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${method} timed out; chromium said: ${this.stderr}`)),
        30_000,
      );
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  event(method: string): Promise<void> {
    return new Promise((resolve) => this.#waiters.push({ method, resolve }));
  }

  /** Ends the browser and waits (up to 10 s) for it to exit. */
  close(): Promise<void> {
    if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      this.#proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.#proc.kill('SIGTERM');
    });
  }
}

interface SvgReport {
  readonly id: string;
  readonly kind: string;
  readonly namespace: string;
  readonly width: number;
  readonly height: number;
  readonly title: string;
  readonly paths: readonly { series: string; length: number }[];
  readonly marks: number;
  readonly legend: readonly string[];
  readonly legendOverlaps: number;
  readonly legendOutside: number;
}

/** Runs in the page: what each chart looks like after layout. */
const INSPECT = `(() => {
  const boxes = (els) => els.map((e) => e.getBBox());
  const overlap = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  return [...document.querySelectorAll('svg')].map((svg) => {
    const rect = svg.getBoundingClientRect();
    const texts = [...svg.querySelectorAll('.legend text')];
    const b = boxes(texts);
    let overlaps = 0;
    for (let i = 0; i < b.length; i++) for (let j = i + 1; j < b.length; j++) if (overlap(b[i], b[j])) overlaps++;
    const vb = svg.viewBox.baseVal;
    return {
      id: svg.id,
      kind: svg.dataset.chart,
      namespace: svg.namespaceURI,
      width: rect.width,
      height: rect.height,
      title: svg.querySelector('title')?.textContent ?? '',
      paths: [...svg.querySelectorAll('path.series')].map((p) => ({ series: p.dataset.series, length: p.getTotalLength() })),
      marks: svg.querySelectorAll('rect.bar, rect.segment, rect.cell').length,
      legend: texts.map((t) => t.textContent),
      legendOverlaps: overlaps,
      legendOutside: b.filter((r) => r.x < 0 || r.x + r.width > vb.width + 0.5).length,
    };
  });
})()`;

function parsesAsXml(svgs: readonly string[]): string {
  return `(${JSON.stringify(svgs)}).map((s) => new DOMParser().parseFromString(s, 'image/svg+xml').querySelector('parsererror') === null)`;
}

const title =
  chromium.path === undefined
    ? `report in headless Chromium (skipped: ${chromium.reason})`
    : 'report in headless Chromium';

describe.skipIf(chromium.path === undefined)(title, () => {
  const browser = chromium.path ?? '';
  const openbFile = (): string => join(dir, 'openb.html');
  const gangFile = (): string => join(dir, 'gang.html');
  let openbHtml = '';
  let gangHtml = '';

  // Chromium's helper processes may still be letting go of their profile for a moment.
  afterAll(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'phalanx-report-render-'));
    const { nodes, pods } = smallTrace();
    const trace = loadTrace(nodes, pods);
    const runs = ['best-fit', 'fgd', 'random'].map((policy) =>
      simulate(trace, { policy, seed: 5, ratio: 1.3, occupancy: true }),
    );
    openbHtml = renderReport(openbReportInput(runs));
    gangHtml = renderReport(gangShaped());
    writeFileSync(openbFile(), openbHtml);
    writeFileSync(gangFile(), gangHtml);
  });

  function dumpDom(file: string): string {
    const result = spawnSync(
      browser,
      [
        ...BROWSER_FLAGS,
        `--user-data-dir=${join(dir, 'profile-dump')}`,
        '--dump-dom',
        pathToFileURL(file).href,
      ],
      { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
    );
    if (result.status !== 0)
      throw new Error(
        `chromium --dump-dom failed (${result.status}): ${result.stderr.slice(-2000)}`,
      );
    return result.stdout;
  }

  it('--dump-dom shows every plot with its series paths and legend text', () => {
    const dom = dumpDom(openbFile());
    const svgs = [...dom.matchAll(/<svg\b[\s\S]*?<\/svg>/g)].map((m) => m[0]);
    expect(svgs.map((s) => /data-chart="(\w+)"/.exec(s)?.[1])).toEqual([
      'line',
      'line',
      'line',
      'heat',
      'heat',
      'heat',
    ]);
    for (const svg of svgs.slice(0, 3)) {
      for (const policy of ['best-fit', 'fgd', 'random']) {
        expect(svg).toMatch(new RegExp(`<path class="series" data-series="${policy}" d="M[^"]+"`));
        expect(svg).toMatch(new RegExp(`<text[^>]*>${policy}</text>`));
      }
    }
    for (const svg of svgs.slice(3)) {
      expect(svg).toContain('class="cell"');
      expect(svg).toMatch(/<text[^>]*>full<\/text>/);
    }
  });

  it('--dump-dom shows the bar and stacked charts of a gang-shaped report', () => {
    const dom = dumpDom(gangFile());
    expect(dom).toContain('synthetic gang overlay');
    const svgs = [...dom.matchAll(/<svg\b[\s\S]*?<\/svg>/g)].map((m) => m[0]);
    expect(svgs.map((s) => /data-chart="(\w+)"/.exec(s)?.[1])).toEqual(['bars', 'stacked']);
    expect(svgs[0]).toMatch(/<text[^>]*>phalanx p50<\/text>/);
    expect(svgs[1]).toMatch(/<text[^>]*>block<\/text>/);
  });

  describe('after layout (DevTools protocol)', () => {
    let cdp: Cdp | undefined;
    afterAll(async () => {
      await cdp?.close();
    });

    async function inspect(
      file: string,
      html: string,
    ): Promise<{ charts: SvgReport[]; xmlOk: boolean[] }> {
      cdp ??= new Cdp(browser, join(dir, 'profile-cdp'));
      const c = cdp;
      const { targetId } = await c.send<{ targetId: string }>('Target.createTarget', {
        url: 'about:blank',
      });
      const { sessionId } = await c.send<{ sessionId: string }>('Target.attachToTarget', {
        targetId,
        flatten: true,
      });
      await c.send('Page.enable', {}, sessionId);
      const loaded = c.event('Page.loadEventFired');
      await c.send('Page.navigate', { url: pathToFileURL(file).href }, sessionId);
      await loaded;
      const evaluate = async <T>(expression: string): Promise<T> => {
        const r = await c.send<{ result: { value: T }; exceptionDetails?: unknown }>(
          'Runtime.evaluate',
          { expression, returnByValue: true },
          sessionId,
        );
        if (r.exceptionDetails !== undefined)
          throw new Error(`page script failed: ${JSON.stringify(r.exceptionDetails)}`);
        return r.result.value;
      };
      const charts = await evaluate<SvgReport[]>(INSPECT);
      const raw = [...html.matchAll(/<svg\b[\s\S]*?<\/svg>/g)].map((m) => m[0]);
      const xmlOk = await evaluate<boolean[]>(parsesAsXml(raw));
      await c.send('Target.closeTarget', { targetId });
      return { charts, xmlOk };
    }

    it('lays out every chart of the openb report with drawn series and a clean legend', async () => {
      const { charts, xmlOk } = await inspect(openbFile(), openbHtml);
      expect(charts).toHaveLength(6);
      expect(xmlOk).toEqual(charts.map(() => true));
      for (const chart of charts) {
        expect(chart.namespace).toBe('http://www.w3.org/2000/svg');
        expect(chart.width).toBeGreaterThan(300);
        expect(chart.height).toBeGreaterThan(chart.kind === 'heat' ? 50 : 250);
        expect(chart.title).not.toBe('');
        expect(chart.legendOverlaps).toBe(0);
        expect(chart.legendOutside).toBe(0);
      }
      for (const chart of charts.filter((c) => c.kind === 'line')) {
        for (const policy of ['best-fit', 'fgd', 'random']) {
          const path = chart.paths.find((p) => p.series === policy);
          expect(path?.length ?? 0).toBeGreaterThan(10);
          expect(chart.legend).toContain(policy);
        }
      }
      for (const chart of charts.filter((c) => c.kind === 'heat')) {
        expect(chart.marks).toBe(12);
        expect(chart.legend).toContain('idle');
      }
    });

    it('lays out the bar and stacked charts of a gang-shaped report', async () => {
      const { charts, xmlOk } = await inspect(gangFile(), gangHtml);
      expect(xmlOk).toEqual([true, true]);
      const [bars, stacked] = charts;
      expect(bars?.marks).toBe(5);
      expect(bars?.legend).toEqual(['phalanx p50', 'first-fit p50']);
      expect(stacked?.marks).toBe(6);
      expect(stacked?.legend).toEqual(['node', 'rack', 'block']);
      for (const chart of charts) {
        expect(chart.legendOverlaps).toBe(0);
        expect(chart.legendOutside).toBe(0);
      }
    });
  });
});
