/**
 * The simulation report: ONE self-contained HTML file (inline CSS, inline SVG, no script, no
 * external resource) with a header saying what was run, the summary table, and a section per
 * measured aspect. Openb replays fill allocation, fragmentation and occupancy; gang runs fill
 * waiting, locality, share and occupancy. Every section is optional and left out when absent.
 *
 * Pure: no I/O.
 */
import {
  type GroupedBarSpec,
  groupedBarChart,
  type StackedBarSpec,
  stackedBarChart,
} from './bar-chart.ts';
import { type HeatGridSpec, heatGrid } from './heat-grid.ts';
import { type LineChartSpec, lineChart } from './line-chart.ts';
import { escapeXml, idFragment } from './svg.ts';

export type ChartSpec =
  | ({ readonly kind: 'line' } & LineChartSpec)
  | ({ readonly kind: 'bars' } & GroupedBarSpec)
  | ({ readonly kind: 'stacked' } & StackedBarSpec)
  | ({ readonly kind: 'heat' } & HeatGridSpec);

export interface TableData {
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly caption?: string;
}

export interface ReportSection {
  readonly title: string;
  /** Paragraphs of plain text above the charts. */
  readonly text?: readonly string[];
  readonly charts: readonly ChartSpec[];
  /** A table below the charts. */
  readonly table?: TableData;
}

/** One input file of the run, with its hash so a result traces to the exact bytes. */
export interface InputFile {
  /** What the file is: `nodes`, `pods`, `workload`… */
  readonly role: string;
  readonly path: string;
  readonly sha256: string;
  readonly rows?: number;
}

export interface RunHeader {
  /** What kind of run, in words: `openb trace replay`, `gang workload replay`. */
  readonly workload: string;
  /** The trace by name (e.g. `openb_pod_list_default`) and its files. */
  readonly trace?: { readonly name: string; readonly files: readonly InputFile[] };
  readonly policies: readonly string[];
  readonly seeds: readonly number[];
  /** Arriving GPU demand as a multiple of capacity (openb `--tune-ratio`). */
  readonly tuneRatio?: number;
  /** Present when gangs were laid over the trace synthetically; labelled as such in the header. */
  readonly overlay?: { readonly description: string; readonly seed?: number };
  /** Further facts shown in the header, in order. */
  readonly facts?: readonly { readonly label: string; readonly value: string }[];
  /** The command line that produced the report. */
  readonly command?: string;
  /** ISO time of the run; left out of the page when absent (tests stay deterministic). */
  readonly generatedAt?: string;
}

export interface ReportInput {
  readonly title: string;
  readonly run: RunHeader;
  readonly summary: TableData;
  /** Openb: GPU allocation vs arrived demand per policy, published numbers as references. */
  readonly allocation?: ReportSection;
  /** Openb: fragmented GPU capacity vs arrived demand. */
  readonly fragmentation?: ReportSection;
  /** Gang runs: waiting time per queue. */
  readonly waiting?: ReportSection;
  /** Gang runs: the narrowest topology level that held each gang. */
  readonly locality?: ReportSection;
  /** Gang runs: GPU share received vs the queue's weight. */
  readonly share?: ReportSection;
  /** Both: the cluster occupancy map at the end of the run. */
  readonly occupancy?: ReportSection;
  /** Any further sections, after the named ones. */
  readonly extra?: readonly ReportSection[];
  /** Data credits shown in the footer (e.g. the trace's origin and paper). */
  readonly credits?: readonly string[];
}

/** The named sections in page order, with their anchors. */
export const SECTION_ORDER = [
  'allocation',
  'fragmentation',
  'waiting',
  'locality',
  'share',
  'occupancy',
] as const;

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1f2328; background: #ffffff; }
header, main, footer, nav { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { font-size: 24px; margin: 0 0 8px; }
h2 { font-size: 19px; margin: 32px 0 8px; padding-top: 8px; border-top: 1px solid #d8dee4; }
figure { margin: 16px 0 24px; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg { display: block; max-width: 100%; height: auto; }
dl.run { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.run dt { color: #57606a; }
dl.run dd { margin: 0; overflow-wrap: anywhere; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; background: #fff1d6; color: #6b4400; border: 1px solid #e6b35c; font-size: 12px; font-weight: 600; }
nav ul { list-style: none; padding: 0; margin: 8px 0; display: flex; flex-wrap: wrap; gap: 4px 16px; }
nav a { color: #0b5cad; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; font-variant-numeric: tabular-nums; }
p.caption { color: #57606a; margin: 8px 0 4px; }
th, td { padding: 3px 7px; border-bottom: 1px solid #d8dee4; text-align: left; white-space: nowrap; }
th { background: #f6f8fa; font-weight: 600; }
td.num, th.num { text-align: right; }
.table-wrap { overflow-x: auto; }
footer { margin-top: 32px; padding-bottom: 32px; color: #57606a; font-size: 12px; }
@media print { h2 { break-before: auto; } figure { break-inside: avoid; } }
`;

const NUMERIC = /^[-+−]?(\d|\.\d)/;

function isNumericColumn(rows: readonly (readonly string[])[], col: number): boolean {
  const cells = rows.map((r) => r[col] ?? '').filter((c) => c !== '' && c !== '-');
  return cells.length > 0 && cells.every((c) => NUMERIC.test(c));
}

/** A table; columns whose cells are all numbers (or `-`) are right-aligned. */
export function renderTable(table: TableData): string {
  const numeric = table.headers.map((_, i) => isNumericColumn(table.rows, i));
  const cls = (i: number): string => (numeric[i] === true ? ' class="num"' : '');
  const head = table.headers
    .map((h, i) => `<th scope="col"${cls(i)}>${escapeXml(h)}</th>`)
    .join('');
  const body = table.rows
    .map(
      (r) =>
        `<tr>${table.headers.map((_, i) => `<td${cls(i)}>${escapeXml(r[i] ?? '')}</td>`).join('')}</tr>`,
    )
    .join('\n');
  const caption =
    table.caption === undefined ? '' : `<p class="caption">${escapeXml(table.caption)}</p>\n`;
  return `${caption}<div class="table-wrap"><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

/** One chart as an <svg> element. */
export function renderChart(chart: ChartSpec): string {
  switch (chart.kind) {
    case 'line':
      return lineChart(chart);
    case 'bars':
      return groupedBarChart(chart);
    case 'stacked':
      return stackedBarChart(chart);
    case 'heat':
      return heatGrid(chart);
  }
}

/** Gives every chart an id unique in the page (a repeated id gets `-2`, `-3`…). */
function uniqueIds(): (chart: ChartSpec) => ChartSpec {
  const seen = new Map<string, number>();
  return (chart) => {
    const base = idFragment(chart.id);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 && base === chart.id ? chart : { ...chart, id: n === 1 ? base : `${base}-${n}` };
  };
}

function renderSection(
  id: string,
  section: ReportSection,
  unique: (c: ChartSpec) => ChartSpec,
): string {
  const paragraphs = (section.text ?? []).map((p) => `<p>${escapeXml(p)}</p>`).join('\n');
  const figures = section.charts
    .map(unique)
    .map(
      (c) => `<figure><figcaption>${escapeXml(c.title)}</figcaption>\n${renderChart(c)}\n</figure>`,
    )
    .join('\n');
  const table = section.table === undefined ? '' : renderTable(section.table);
  return `<section id="${escapeXml(id)}">\n<h2>${escapeXml(section.title)}</h2>\n${paragraphs}\n${figures}\n${table}\n</section>`;
}

/** The sections present, in page order, with their anchors. */
export function presentSections(input: ReportInput): { id: string; section: ReportSection }[] {
  const out: { id: string; section: ReportSection }[] = [];
  for (const id of SECTION_ORDER) {
    const section = input[id];
    if (section !== undefined) out.push({ id, section });
  }
  (input.extra ?? []).forEach((section, i) => {
    out.push({ id: `extra-${i + 1}`, section });
  });
  return out;
}

function fact(label: string, valueHtml: string): string {
  return `<dt>${escapeXml(label)}</dt><dd>${valueHtml}</dd>`;
}

function traceFacts(run: RunHeader): string[] {
  if (run.trace === undefined) return [];
  const files = run.trace.files.map((f) => {
    const rows = f.rows === undefined ? '' : `, ${f.rows} rows`;
    return fact(
      `${f.role} file`,
      `<code>${escapeXml(f.path)}</code>${escapeXml(rows)}<br><code>sha256 ${escapeXml(f.sha256)}</code>`,
    );
  });
  return [fact('trace', escapeXml(run.trace.name)), ...files];
}

function headerFacts(run: RunHeader): string {
  const overlay =
    run.overlay === undefined
      ? []
      : [
          fact(
            'gangs',
            `<span class="badge">synthetic gang overlay</span> ${escapeXml(run.overlay.description)}${
              run.overlay.seed === undefined ? '' : escapeXml(` (overlay seed ${run.overlay.seed})`)
            }`,
          ),
        ];
  const rows = [
    fact('workload', escapeXml(run.workload)),
    ...traceFacts(run),
    ...overlay,
    fact(run.policies.length === 1 ? 'policy' : 'policies', escapeXml(run.policies.join(', '))),
    fact(run.seeds.length === 1 ? 'seed' : 'seeds', escapeXml(run.seeds.join(', '))),
    ...(run.tuneRatio === undefined
      ? []
      : [
          fact(
            'tune ratio',
            escapeXml(
              `${run.tuneRatio} (arriving GPU demand ${Math.round(run.tuneRatio * 100)}% of capacity)`,
            ),
          ),
        ]),
    ...(run.facts ?? []).map((f) => fact(f.label, escapeXml(f.value))),
    ...(run.command === undefined
      ? []
      : [fact('command', `<code>${escapeXml(run.command)}</code>`)]),
    ...(run.generatedAt === undefined ? [] : [fact('generated', escapeXml(run.generatedAt))]),
  ];
  return `<dl class="run">\n${rows.join('\n')}\n</dl>`;
}

function nav(sections: readonly { id: string; section: ReportSection }[]): string {
  const items = [
    { id: 'summary', title: 'Summary' },
    ...sections.map((s) => ({ id: s.id, title: s.section.title })),
  ]
    .map((s) => `<li><a href="#${escapeXml(s.id)}">${escapeXml(s.title)}</a></li>`)
    .join('');
  return `<nav aria-label="Sections"><ul>${items}</ul></nav>`;
}

/** The whole report as one HTML document. */
export function renderReport(input: ReportInput): string {
  const sections = presentSections(input);
  const unique = uniqueIds();
  const credits = (input.credits ?? []).map((c) => `<p>${escapeXml(c)}</p>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="phalanx simulate">
<title>${escapeXml(input.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeXml(input.title)}</h1>
${headerFacts(input.run)}
</header>
${nav(sections)}
<main>
<section id="summary">
<h2>Summary</h2>
${renderTable(input.summary)}
</section>
${sections.map((s) => renderSection(s.id, s.section, unique)).join('\n')}
</main>
<footer>
<p>Generated by <code>phalanx simulate</code>. Charts are inline SVG; hover a point, bar or cell for its value.</p>
${credits}
</footer>
</body>
</html>
`;
}
