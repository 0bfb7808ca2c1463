/**
 * Configuration of the fake GPU backend: which node profile to emulate and which faults to inject.
 *
 * File form (YAML or JSON):
 * ```yaml
 * profile: sxm8-80g        # sxm8-80g | pcie4-48g | nvl4-rack
 * gpus: 4                  # optional override of the profile's GPU count (1..64)
 * rackDomain: rack-a-nvl   # nvl4-rack only: NVLink domain shared by the rack's nodes
 * cliqueId: <uuid>.0       # nvl4-rack only: clique id shared by the rack's nodes
 * faults:
 *   - { gpu: 2, kind: unhealthy, message: "XID 48: double-bit ECC error" }
 *   - { gpu: 3, kind: slowPrepare, delayMs: 2000 }
 *   - { gpu: 1, kind: failPrepare, count: 2 }
 * ```
 * Flag form: `profile=sxm8-80g,gpus=4,fault=unhealthy:2,fault=slowPrepare:3:2000` (see
 * {@link parseFakeBackendFlag}).
 *
 * Pure: parses text it is given; reading the file is the caller's job.
 */
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { parse as parseYaml } from 'yaml';
import { FAKE_PROFILE_NAMES, fakeProfile, MAX_FAKE_GPUS } from './profiles.ts';

export const FAULT_KINDS = ['unhealthy', 'lost', 'slowPrepare', 'failPrepare'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Longest injected delay (10 minutes): anything longer is a typo, not a test. */
export const MAX_FAULT_DELAY_MS = 600_000;

const FaultSpecSchema = Type.Object(
  {
    gpu: Type.Integer({ minimum: 0, maximum: MAX_FAKE_GPUS - 1 }),
    kind: Type.Enum([...FAULT_KINDS]),
    message: Type.Optional(Type.String({ maxLength: 200 })),
    delayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_FAULT_DELAY_MS })),
    count: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

const FakeBackendConfigSchema = Type.Object(
  {
    profile: Type.String({ minLength: 1 }),
    gpus: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_FAKE_GPUS })),
    rackDomain: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    cliqueId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    faults: Type.Optional(Type.Array(FaultSpecSchema, { maxItems: 256 })),
  },
  { additionalProperties: false },
);

/**
 * One injected fault.
 * - `unhealthy` / `lost`: the GPU reports that health (with `message`) from the start.
 * - `slowPrepare`: prepares touching the GPU wait `delayMs` first (abortable).
 * - `failPrepare`: the next `count` prepares touching the GPU fail (all of them without `count`).
 */
export type FaultSpec = Static<typeof FaultSpecSchema>;
export type FakeBackendConfig = Static<typeof FakeBackendConfigSchema>;

const checkConfig = Compile(FakeBackendConfigSchema);

/** A configuration error: the message names the source, the field and what to change. */
export class FakeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FakeConfigError';
  }
}

/** `/faults/0/kind` → `faults[0].kind`. */
function fieldPath(instancePath: string): string {
  const parts = instancePath.split('/').filter((p) => p !== '');
  let out = '';
  for (const part of parts)
    out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  return out === '' ? 'the document' : out;
}

interface SchemaError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Record<string, unknown>;
  readonly message: string;
}

function describe(error: SchemaError): string | undefined {
  const at = fieldPath(error.instancePath);
  const p = error.params;
  switch (error.keyword) {
    case 'additionalProperties': {
      const extra = Array.isArray(p.additionalProperties) ? p.additionalProperties : [];
      const where = error.instancePath === '' ? '' : `${at}: `;
      return `${where}unknown field ${extra.map((e) => `"${String(e)}"`).join(', ')}; remove it`;
    }
    case 'required': {
      const missing = Array.isArray(p.requiredProperties) ? p.requiredProperties : [];
      const where = error.instancePath === '' ? '' : `${at}: `;
      return `${where}missing ${missing.map(String).join(', ')}; add it`;
    }
    case 'enum': {
      const allowed = Array.isArray(p.allowedValues) ? p.allowedValues : [];
      return `${at} must be one of ${allowed.map(String).join(', ')}`;
    }
    case 'boolean':
      return undefined; // duplicate of the `additionalProperties` error
    default:
      return `${at} ${error.message}`;
  }
}

function semanticErrors(config: FakeBackendConfig): string[] {
  const profile = fakeProfile(config.profile);
  if (profile === undefined) {
    return [`profile "${config.profile}" is unknown; use one of ${FAKE_PROFILE_NAMES.join(', ')}`];
  }
  const errors: string[] = [];
  const count = config.gpus ?? profile.defaultGpus;
  if (profile.nvlink !== 'rack') {
    for (const key of ['rackDomain', 'cliqueId'] as const) {
      if (config[key] !== undefined) {
        errors.push(`${key} applies only to profile nvl4-rack; remove it or change the profile`);
      }
    }
  }
  config.faults?.forEach((fault, i) => {
    if (fault.gpu >= count) {
      errors.push(
        `faults[${i}].gpu ${fault.gpu} does not exist; profile ${profile.name} with ${count} GPUs has GPUs 0..${count - 1}`,
      );
    }
    if (fault.kind === 'slowPrepare' && fault.delayMs === undefined) {
      errors.push(`faults[${i}]: slowPrepare needs delayMs; add delayMs (milliseconds)`);
    }
  });
  return errors;
}

/** Validates an already-parsed value; throws {@link FakeConfigError} naming `source`. */
export function validateFakeBackendConfig(value: unknown, source: string): FakeBackendConfig {
  if (!checkConfig.Check(value)) {
    const messages = [...checkConfig.Errors(value)]
      .map((e) => describe(e as SchemaError))
      .filter((m): m is string => m !== undefined);
    throw new FakeConfigError(`${source}: ${[...new Set(messages)].join('; ')}`);
  }
  const config = value as FakeBackendConfig;
  const errors = semanticErrors(config);
  if (errors.length > 0) throw new FakeConfigError(`${source}: ${errors.join('; ')}`);
  return config;
}

/** Parses YAML or JSON text (JSON is valid YAML) and validates it. */
export function parseFakeBackendConfig(text: string, source: string): FakeBackendConfig {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new FakeConfigError(`${source}: not valid YAML or JSON (${reason}); fix the syntax`);
  }
  if (value === null || value === undefined) {
    throw new FakeConfigError(`${source}: the file is empty; set at least "profile"`);
  }
  return validateFakeBackendConfig(value, source);
}

const FLAG_SOURCE = '--fake-gpus';

function parseFlagInt(key: string, raw: string): number {
  if (!/^\d+$/.test(raw)) {
    throw new FakeConfigError(`${FLAG_SOURCE}: ${key}="${raw}" is not a whole number`);
  }
  return Number(raw);
}

/** `unhealthy:2`, `failPrepare:1:3` (count), `slowPrepare:3:2000` (delayMs). */
function parseFlagFault(raw: string): FaultSpec {
  const [kind = '', gpu = '', extra] = raw.split(':');
  if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
    throw new FakeConfigError(
      `${FLAG_SOURCE}: fault "${raw}" has unknown kind "${kind}"; use one of ${FAULT_KINDS.join(', ')} as <kind>:<gpu>[:<n>]`,
    );
  }
  const fault: Record<string, unknown> = { kind, gpu: parseFlagInt('fault gpu', gpu) };
  if (extra !== undefined) {
    const n = parseFlagInt('fault parameter', extra);
    if (kind === 'slowPrepare') fault.delayMs = n;
    else if (kind === 'failPrepare') fault.count = n;
    else throw new FakeConfigError(`${FLAG_SOURCE}: fault "${raw}": ${kind} takes no parameter`);
  }
  return fault as FaultSpec;
}

/**
 * Parses the compact flag form `profile=sxm8-80g,gpus=4,rackDomain=r1-nvl,cliqueId=x.0,
 * fault=<kind>:<gpu>[:<n>]` (repeat `fault=`). A bare value is a profile name: `pcie4-48g`.
 */
export function parseFakeBackendFlag(value: string): FakeBackendConfig {
  const trimmed = value.trim();
  if (trimmed !== '' && !trimmed.includes('=')) {
    return validateFakeBackendConfig({ profile: trimmed }, FLAG_SOURCE);
  }
  const config: Record<string, unknown> = {};
  const faults: FaultSpec[] = [];
  for (const item of trimmed.split(',').filter((s) => s.trim() !== '')) {
    const eq = item.indexOf('=');
    const key = item.slice(0, eq).trim();
    const raw = item.slice(eq + 1).trim();
    if (eq < 0 || key === '') {
      throw new FakeConfigError(`${FLAG_SOURCE}: "${item}" is not key=value`);
    }
    if (key === 'fault') faults.push(parseFlagFault(raw));
    else if (key === 'gpus') config.gpus = parseFlagInt(key, raw);
    else if (key === 'profile' || key === 'rackDomain' || key === 'cliqueId') config[key] = raw;
    else {
      throw new FakeConfigError(
        `${FLAG_SOURCE}: unknown key "${key}"; use profile, gpus, rackDomain, cliqueId or fault`,
      );
    }
  }
  if (faults.length > 0) config.faults = faults;
  if (config.profile === undefined) {
    throw new FakeConfigError(
      `${FLAG_SOURCE}: profile is missing; add profile=<${FAKE_PROFILE_NAMES.join('|')}>`,
    );
  }
  return validateFakeBackendConfig(config, FLAG_SOURCE);
}
