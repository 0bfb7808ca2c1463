/**
 * Command-line flags with environment-variable twins. Every flag has exactly one env twin and one
 * documented default; the flag wins over the env var, which wins over the default. The same table
 * renders `--help` and the configuration reference, so they cannot drift apart.
 */
import { parseArgs } from 'node:util';

export type FlagType = 'string' | 'number' | 'boolean';

interface FlagSpecBase {
  /** Env var twin, e.g. `PHALANX_KUBELET_ROOT`. */
  readonly env: string;
  readonly description: string;
}

export interface StringFlag extends FlagSpecBase {
  readonly type: 'string';
  readonly default: string;
  /** When set, the value must be one of these. */
  readonly choices?: readonly string[];
}
export interface NumberFlag extends FlagSpecBase {
  readonly type: 'number';
  readonly default: number;
  readonly min?: number;
  readonly max?: number;
}
export interface BooleanFlag extends FlagSpecBase {
  readonly type: 'boolean';
  readonly default: boolean;
}
export type FlagSpec = StringFlag | NumberFlag | BooleanFlag;
export type FlagTable = Readonly<Record<string, FlagSpec>>;

export type FlagValues<T extends FlagTable> = {
  readonly [K in keyof T]: T[K] extends NumberFlag
    ? number
    : T[K] extends BooleanFlag
      ? boolean
      : string;
};

/** `-v`: klog-style log verbosity, the same in every long-running command. */
export const VERBOSITY_FLAG = {
  type: 'number',
  env: 'PHALANX_V',
  default: 2,
  min: 0,
  max: 10,
  description: 'Log verbosity, klog style: 0-2 info, 3-4 debug, 5+ trace.',
} as const satisfies NumberFlag;

export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

export interface ParsedCommandLine<T extends FlagTable> {
  readonly values: FlagValues<T>;
  readonly positionals: readonly string[];
  readonly help: boolean;
}

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off', '']);

function convert(name: string, spec: FlagSpec, raw: string | boolean, origin: string): unknown {
  if (spec.type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    const word = raw.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    throw new FlagError(`--${name} (${origin}): expected true or false, got "${raw}"`);
  }
  const text = String(raw);
  if (spec.type === 'number') {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value)) {
      throw new FlagError(`--${name} (${origin}): expected a number, got "${text}"`);
    }
    if (spec.min !== undefined && value < spec.min) {
      throw new FlagError(`--${name} (${origin}): must be at least ${spec.min}, got ${value}`);
    }
    if (spec.max !== undefined && value > spec.max) {
      throw new FlagError(`--${name} (${origin}): must be at most ${spec.max}, got ${value}`);
    }
    return value;
  }
  if (spec.choices !== undefined && !spec.choices.includes(text)) {
    throw new FlagError(
      `--${name} (${origin}): "${text}" is not allowed; use one of ${spec.choices.join(', ')}`,
    );
  }
  return text;
}

/** Parses argv (without the command name) against a flag table and the environment. */
export function parseCommandLine<T extends FlagTable>(
  command: string,
  table: T,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): ParsedCommandLine<T> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const [name, spec] of Object.entries(table)) {
    options[name] = { type: spec.type === 'boolean' ? 'boolean' : 'string' };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new FlagError(
      `phalanx ${command}: ${reason}. Run "phalanx ${command} --help" for flags.`,
    );
  }
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(table)) {
    const fromFlag = parsed.values[name];
    const fromEnv = env[spec.env];
    if (Array.isArray(fromFlag)) throw new FlagError(`--${name} may be given only once`);
    if (fromFlag !== undefined) values[name] = convert(name, spec, fromFlag, 'flag');
    else if (fromEnv !== undefined) values[name] = convert(name, spec, fromEnv, `env ${spec.env}`);
    else values[name] = spec.default;
  }
  return {
    values: values as FlagValues<T>,
    positionals: parsed.positionals,
    help: parsed.values.help === true,
  };
}

function defaultText(spec: FlagSpec): string {
  if (spec.type === 'string') return spec.default === '' ? '(empty)' : spec.default;
  return String(spec.default);
}

/** `--help` text for one command. */
export function usage(command: string, summary: string, table: FlagTable): string {
  const lines = [
    `Usage: phalanx ${command} [flags]`,
    '',
    summary,
    '',
    'Flags (each has an env twin):',
  ];
  for (const [name, spec] of Object.entries(table)) {
    const choices =
      spec.type === 'string' && spec.choices ? ` One of: ${spec.choices.join(', ')}.` : '';
    lines.push(`  --${name}  [${spec.env}]  default: ${defaultText(spec)}`);
    lines.push(`      ${spec.description}${choices}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Markdown table for the configuration reference. */
export function markdownTable(table: FlagTable): string {
  const rows = ['| flag | env | default | description |', '|---|---|---|---|'];
  for (const [name, spec] of Object.entries(table)) {
    const description = spec.description.replaceAll('|', '\\|');
    rows.push(`| \`--${name}\` | \`${spec.env}\` | \`${defaultText(spec)}\` | ${description} |`);
  }
  return rows.join('\n');
}
