/**
 * A small XML well-formedness checker for the report tests (no XML parser is installed): tags
 * balance, one root element, attributes quoted and not repeated, every `&` starts a known entity
 * or a character reference, no stray `<`. Returns the problems found (empty when well formed).
 */

const NAME = '[A-Za-z_][\\w.:-]*';
const TAG = new RegExp(
  `<(/?)(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>`,
  'y',
);
const ATTR = new RegExp(`(${NAME})\\s*=\\s*(?:"([^"<]*)"|'([^'<]*)')`, 'g');
const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/y;

function checkAmpersands(text: string, where: number, problems: string[]): void {
  for (let i = text.indexOf('&'); i >= 0; i = text.indexOf('&', i + 1)) {
    ENTITY.lastIndex = i;
    if (!ENTITY.test(text)) problems.push(`bad entity at ${where + i}: ${text.slice(i, i + 12)}`);
  }
}

function checkAttributes(source: string, at: number, problems: string[]): void {
  const names = new Set<string>();
  for (const m of source.matchAll(ATTR)) {
    const name = m[1] ?? '';
    if (names.has(name)) problems.push(`attribute ${name} repeated at ${at}`);
    names.add(name);
    checkAmpersands(m[2] ?? m[3] ?? '', at, problems);
  }
}

interface ParseState {
  readonly problems: string[];
  readonly stack: string[];
  roots: number;
}

/** Handles the tag at `lt`; returns where the text after it starts, or -1 when it is malformed. */
function readTag(xml: string, lt: number, state: ParseState): number {
  TAG.lastIndex = lt;
  const m = TAG.exec(xml);
  if (m === null) {
    state.problems.push(`malformed tag at ${lt}: ${xml.slice(lt, lt + 40)}`);
    return -1;
  }
  const [whole, close, name = '', attrs = '', selfClose] = m;
  if (close === '/') {
    const open = state.stack.pop();
    if (open !== name) state.problems.push(`</${name}> closes <${open ?? 'nothing'}> at ${lt}`);
  } else {
    if (state.stack.length === 0) state.roots++;
    checkAttributes(attrs, lt, state.problems);
    if (selfClose !== '/') state.stack.push(name);
  }
  return lt + whole.length;
}

export function xmlProblems(xml: string): string[] {
  const state: ParseState = { problems: [], stack: [], roots: 0 };
  let i = 0;
  while (i >= 0 && i < xml.length) {
    const lt = xml.indexOf('<', i);
    const chunk = xml.slice(i, lt < 0 ? xml.length : lt);
    if (state.stack.length === 0 && chunk.trim() !== '')
      state.problems.push(`text outside the root at ${i}`);
    checkAmpersands(chunk, i, state.problems);
    i = lt < 0 ? -1 : readTag(xml, lt, state);
  }
  if (state.stack.length > 0) state.problems.push(`unclosed: ${state.stack.join(' > ')}`);
  if (state.roots !== 1) state.problems.push(`expected one root element, found ${state.roots}`);
  return state.problems;
}

/** Every <svg>…</svg> element of an HTML page (the report never nests them). */
export function svgParts(html: string): string[] {
  return [...html.matchAll(/<svg\b[\s\S]*?<\/svg>/g)].map((m) => m[0]);
}
