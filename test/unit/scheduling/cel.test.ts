import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { formatBytes, parseQuantity } from '../../../src/api/resource/quantity.ts';
import type { Device } from '../../../src/api/resource/v1.ts';
import { FakeGpuBackend } from '../../../src/devices/fake/backend.ts';
import { buildPoolSlices } from '../../../src/driver/slices.ts';
import {
  CelCompileError,
  type CelDevice,
  CelEvalError,
  celDevice,
  compileSelector,
  MAX_EXPRESSION_BYTES,
  SELECTOR_CACHE_LIMIT,
} from '../../../src/scheduling/cel.ts';

const DRIVER = 'gpu.phalanx.dev';
const A = `device.attributes["${DRIVER}"]`;
const C = `device.capacity["${DRIVER}"]`;

function devicesOf(profile: string, gpus?: number): Device[] {
  const backend = new FakeGpuBackend(
    `node-${profile}`,
    gpus === undefined ? { profile } : { profile, gpus },
  );
  const slices = buildPoolSlices(backend.inventory(), {
    driverName: DRIVER,
    nodeName: `node-${profile}`,
    nodeUid: 'u',
    layout: 'split',
    taintUnhealthy: true,
    serverMinor: 36,
  });
  return slices.flatMap((s) => s.spec.devices ?? []);
}

const SXM = devicesOf('sxm8-80g');
const PCIE = devicesOf('pcie4-48g');
const RACK = devicesOf('nvl4-rack');
const ALL = [...SXM, ...PCIE, ...RACK];

/** Names of the devices a selector matches. */
function matching(expression: string, devices: readonly Device[] = ALL): string[] {
  const selector = compileSelector(expression);
  return devices.filter((d) => selector.matches(celDevice(DRIVER, d))).map((d) => d.name);
}

function evaluate(expression: string, device: CelDevice = plain()): boolean {
  return compileSelector(expression).matches(device);
}

function plain(extra: Partial<CelDevice> = {}): CelDevice {
  return { name: 'dev-0', driver: 'dra.example.com', attributes: {}, capacity: {}, ...extra };
}

function compileError(expression: string): CelCompileError {
  try {
    compileSelector(expression);
  } catch (e) {
    if (e instanceof CelCompileError) return e;
    throw e;
  }
  throw new Error(`expected ${expression} not to compile`);
}

function evalError(expression: string, device: CelDevice): CelEvalError {
  try {
    compileSelector(expression).matches(device);
  } catch (e) {
    if (e instanceof CelEvalError) return e;
    throw e;
  }
  throw new Error(`expected ${expression} to fail`);
}

function classExpressions(): Map<string, string> {
  const text = readFileSync(
    new URL('../../../deploy/manifests/20-deviceclasses.yaml', import.meta.url),
    'utf8',
  );
  const out = new Map<string, string>();
  for (const doc of parseAllDocuments(text)) {
    const cls = doc.toJS() as {
      metadata: { name: string };
      spec: { selectors: { cel: { expression: string } }[] };
    };
    const [selector] = cls.spec.selectors;
    if (selector !== undefined) out.set(cls.metadata.name, selector.cel.expression);
  }
  return out;
}

describe('our DeviceClasses on devices published by the driver', () => {
  const classes = classExpressions();
  const wholeGpus = ALL.filter((d) => d.attributes?.type?.string === 'gpu').map((d) => d.name);
  const partitions = ALL.filter((d) => d.attributes?.type?.string === 'partition').map(
    (d) => d.name,
  );

  it('reads both classes from the manifest', () => {
    expect([...classes.keys()].sort()).toEqual([DRIVER, `partition.${DRIVER}`]);
    expect(wholeGpus).toHaveLength(8 + 4 + 4);
    expect(partitions.length).toBeGreaterThan(0);
  });

  it('the gpu class matches exactly the whole GPUs', () => {
    expect(matching(classes.get(DRIVER) ?? '')).toEqual(wholeGpus);
  });

  it('the partition class matches exactly the partitions', () => {
    expect(matching(classes.get(`partition.${DRIVER}`) ?? '')).toEqual(partitions);
    expect(matching(classes.get(`partition.${DRIVER}`) ?? '', PCIE)).toEqual([]);
  });

  it('neither class matches, nor fails on, a device of another driver', () => {
    const other: Device = { name: 'nic-0', attributes: { type: { string: 'gpu' } } };
    for (const expression of classes.values()) {
      expect(compileSelector(expression).matches(celDevice('dra.example.com', other))).toBe(false);
    }
  });
});

describe('claim selectors on driver devices', () => {
  it('selects partitions by profile', () => {
    const names = matching(`${A}.profile == "1g.10gb"`);
    expect(names).toHaveLength(8 * 7);
    expect(names.every((n) => /^gpu-\d-1g-10gb-\d$/.test(n))).toBe(true);
  });

  it('selects by memory with quantity comparisons', () => {
    const names = matching(
      `${A}.type == "gpu" && ${C}.memory.compareTo(quantity('40Gi')) >= 0 && ${C}.memory.isLessThan(quantity('100Gi'))`,
    );
    expect(names).toHaveLength(8 + 4);
    const big = matching(`${C}.memory.isGreaterThan(quantity("80Gi"))`, RACK);
    // Whole GB200-like GPUs (186 GiB) and their partitions of 93 and 186 GiB.
    expect(big.filter((n) => /^gpu-\d$/.test(n))).toEqual(['gpu-0', 'gpu-1', 'gpu-2', 'gpu-3']);
    expect(big.some((n) => n.includes('3g-93gb'))).toBe(true);
    expect(big.some((n) => n.includes('2g-47gb'))).toBe(false);
  });

  it('selects by product string', () => {
    expect(matching(`${A}.type == "gpu" && ${A}.productName.contains("L40S")`)).toEqual(
      PCIE.map((d) => d.name),
    );
    expect(matching(`${A}.productName.startsWith("Phalanx Fake H100")`, PCIE)).toEqual([]);
  });

  it('selects by the driverVersion version attribute', () => {
    expect(RACK[0]?.attributes?.driverVersion).toEqual({ version: '580.65.6' });
    expect(matching(`${A}.driverVersion.isGreaterThan(semver('570.0.0'))`)).toHaveLength(
      ALL.length,
    );
    const newer = matching(
      `${A}.type == "gpu" && ${A}.driverVersion.isGreaterThan(semver('575.0.0'))`,
    );
    expect(newer).toEqual(['gpu-0', 'gpu-1', 'gpu-2', 'gpu-3']);
    expect(
      matching(`${A}.driverVersion.major() == 580 && ${A}.driverVersion.minor() == 65`),
    ).toEqual(RACK.map((d) => d.name));
    expect(matching(`${A}.driverVersion == semver("570.124.6+build.7")`, PCIE)).toHaveLength(4);
  });

  it('selects by index and NUMA node', () => {
    expect(matching(`${A}.type == "gpu" && ${A}.numaNode == 1`, SXM)).toEqual([
      'gpu-4',
      'gpu-5',
      'gpu-6',
      'gpu-7',
    ]);
    expect(matching(`${A}.index in [2, 3] && ${A}.numaNode == 1`, PCIE)).toEqual([
      'gpu-2',
      'gpu-3',
    ]);
  });

  it('reads qualified attribute names from their own domain', () => {
    const pcieRoot = SXM[0]?.attributes?.['resource.kubernetes.io/pcieRoot']?.string;
    expect(pcieRoot).toBeDefined();
    const names = matching(
      `device.attributes["resource.kubernetes.io"].pcieRoot == "${pcieRoot}" && ${A}.type == "gpu"`,
      SXM,
    );
    expect(names).toEqual(['gpu-0', 'gpu-1', 'gpu-2', 'gpu-3']);
    // The short name is not in the driver's domain.
    expect(matching(`"pcieRoot" in ${A}`, SXM)).toEqual([]);
  });

  it('binds a domain once with cel.bind', () => {
    expect(
      matching(`cel.bind(g, ${A}, g.type == "gpu" && g.index == 1 && g.numaNode == 0)`, SXM),
    ).toEqual(['gpu-1']);
  });

  it('matches exactly the device with index N (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('sxm8-80g', 'pcie4-48g', 'nvl4-rack'),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: -2, max: 18 }),
        (profile, gpus, n) => {
          const devices = devicesOf(profile, gpus).filter(
            (d) => d.attributes?.type?.string === 'gpu',
          );
          const names = matching(`${A}.index == ${n}`, devices);
          const expected = n >= 0 && n < gpus ? [`gpu-${n}`] : [];
          expect(names).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('the device variable', () => {
  const device = plain({
    attributes: {
      model: { string: 'a100' },
      cores: { int: 108 },
      ecc: { bool: true },
      fw: { version: '1.10.0-rc.2' },
      'other.example.com/slot': { int: 3 },
    },
    capacity: { memory: '40Gi', 'other.example.com/lanes': '16' },
  });

  it('puts unqualified names in the driver domain and qualified ones in theirs', () => {
    const d = 'device.attributes["dra.example.com"]';
    expect(evaluate(`device.driver == "dra.example.com"`, device)).toBe(true);
    expect(evaluate(`${d}.model == "a100" && ${d}.cores > 100 && ${d}.ecc`, device)).toBe(true);
    expect(evaluate(`device.attributes["other.example.com"].slot == 3`, device)).toBe(true);
    expect(evaluate(`device.capacity["other.example.com"].lanes == quantity("16")`, device)).toBe(
      true,
    );
    expect(evaluate(`${d}.fw.isLessThan(semver("1.10.0"))`, device)).toBe(true);
    expect(evaluate(`size(device.attributes) == 2 && size(${d}) == 4`, device)).toBe(true);
  });

  it('guards with in and has()', () => {
    const d = 'device.attributes["dra.example.com"]';
    expect(evaluate(`"model" in ${d} && ${d}.model == "a100"`, device)).toBe(true);
    expect(evaluate(`"missing" in ${d} && ${d}.missing == "x"`, device)).toBe(false);
    expect(evaluate(`has(${d}.model) && !has(${d}.missing)`, device)).toBe(true);
    // An unknown domain is an empty map, not an error.
    expect(evaluate(`"x" in device.attributes["nothing.example.com"]`, device)).toBe(false);
    expect(evaluate(`"nothing.example.com" in device.attributes`, device)).toBe(false);
    expect(evaluate(`size(device.capacity["nothing.example.com"]) == 0`, device)).toBe(true);
  });

  it('reports a missing key as an error naming the expression and the device', () => {
    const err = evalError('device.attributes["dra.example.com"].missing == "x"', device);
    expect(err.detail).toBe('no such key: missing');
    expect(err.device).toBe('dev-0');
    expect(err.message).toContain('device.attributes["dra.example.com"].missing == "x"');
    expect(err.message).toContain('dev-0');
    // Also inside an unknown domain (upstream: empty map, then no such key).
    expect(evalError('device.attributes["nothing.example.com"].x == 1', device).detail).toBe(
      'no such key: x',
    );
  });

  it('lets && and || absorb an error the other side decides', () => {
    const missing = 'device.attributes["dra.example.com"].missing == "x"';
    expect(evaluate(`${missing} && false`, device)).toBe(false);
    expect(evaluate(`${missing} || true`, device)).toBe(true);
    expect(() => evaluate(`${missing} || false`, device)).toThrow(CelEvalError);
  });

  it('exposes allowMultipleAllocations, false unless set', () => {
    expect(evaluate('device.allowMultipleAllocations', device)).toBe(false);
    expect(
      evaluate('device.allowMultipleAllocations', plain({ allowMultipleAllocations: true })),
    ).toBe(true);
  });

  it('fails every selector on a device whose version attribute does not parse', () => {
    const bad = plain({ name: 'bad-0', attributes: { fw: { version: '1.2' } } });
    const err = evalError('device.driver == "dra.example.com"', bad);
    expect(err.detail).toBe(
      'attribute fw: parse semantic version: No Major.Minor.Patch elements found',
    );
  });

  it('builds a device from a slice device', () => {
    const d = celDevice(DRIVER, {
      name: 'gpu-9',
      attributes: { index: { int: 9 } },
      capacity: { memory: { value: '1Gi' } },
    });
    expect(d).toEqual({
      name: 'gpu-9',
      driver: DRIVER,
      attributes: { index: { int: 9 } },
      capacity: { memory: '1Gi' },
    });
  });
});

describe('compile-time checks', () => {
  it('reports syntax errors', () => {
    const err = compileError('device.driver ==');
    expect(err.expression).toBe('device.driver ==');
    expect(err.detail).toMatch(/^syntax error: <input>:1:/);
    expect(err.message).toContain('`device.driver ==`');
  });

  it('rejects undeclared variables and functions and unknown device fields', () => {
    expect(compileError('gpu.index == 1').detail).toBe(
      "<input>:1:1: undeclared reference to 'gpu'",
    );
    expect(compileError('device.driver == lower("X")').detail).toMatch(
      /undeclared reference to 'lower'/,
    );
    expect(compileError('device.vendor == "x"').detail).toMatch(/undefined field 'vendor'/);
    // Comprehension variables are declared inside their macro only.
    expect(evaluate('[1, 2].all(x, x > 0)')).toBe(true);
    expect(compileError('[1, 2].all(x, x > 0) && x == 1').detail).toMatch(
      /undeclared reference to 'x'/,
    );
  });

  it('rejects calls no overload accepts in that style, like upstream', () => {
    expect(compileError('quantity("1").sign() == 1').detail).toMatch(
      /no matching overload for 'sign' called as a method/,
    );
    expect(evaluate('sign(quantity("-1")) == -1')).toBe(true);
  });

  it('rejects comparisons and list literals mixing evident types, like the type checker', () => {
    expect(compileError('1 == 1.0').detail).toMatch(
      /no matching overload for '_==_' applied to '\(int, double\)'/,
    );
    expect(compileError('semver("1.0.0") != "1.0.0"').detail).toMatch(
      /'_!=_' applied to '\(kubernetes.Semver, string\)'/,
    );
    expect(compileError('device.driver in ["a", 1]').detail).toMatch(
      /expected type 'string' but found 'int'/,
    );
    expect(evaluate('quantity("1") != null && type(1) == int')).toBe(true);
  });

  it('rejects results that are evidently not bool at compile time', () => {
    expect(compileError('device.driver').detail).toBe('must evaluate to bool, not string');
    expect(compileError('1 + 2').detail).toBe('must evaluate to bool, not int');
    expect(compileError('quantity("1Gi")').detail).toBe(
      'must evaluate to bool, not kubernetes.Quantity',
    );
    expect(compileError('[true].map(x, x)').detail).toBe('must evaluate to bool, not list');
  });

  it('rejects non-bool results only known at run time when evaluating', () => {
    const device = plain({ attributes: { cores: { int: 108 } } });
    const err = evalError('device.attributes["dra.example.com"].cores', device);
    expect(err.detail).toBe('CEL result of type int could not be converted to bool');
  });

  it('refuses expressions longer than the API server allows', () => {
    const long = `device.driver == "${'x'.repeat(MAX_EXPRESSION_BYTES)}"`;
    expect(compileError(long).detail).toMatch(/bytes long; the limit is 10240$/);
  });

  it('refuses expressions whose worst-case cost exceeds the allocator limit', () => {
    const list = `[${Array.from({ length: 20 }, (_, i) => i).join(',')}]`;
    const nest = (depth: number): string =>
      depth === 0 ? 'true' : `${list}.all(v${depth}, ${nest(depth - 1)})`;
    expect(evaluate(nest(3))).toBe(true);
    expect(compileError(nest(5)).detail).toMatch(/estimated worst-case cost \d+ exceeds the limit/);
  });
});

describe('selector cache', () => {
  it('returns the same compiled selector for the same expression', () => {
    const first = compileSelector('device.driver == "cache.example.com"');
    expect(compileSelector('device.driver == "cache.example.com"')).toBe(first);
    expect(first.expression).toBe('device.driver == "cache.example.com"');
  });

  it('caches failures too', () => {
    expect(compileError('device.driver ==!')).toBe(compileError('device.driver ==!'));
  });

  it('drops the least recently used entry beyond its limit', () => {
    const keep = compileSelector('device.driver == "keep.example.com"');
    const old = compileSelector('device.driver == "old.example.com"');
    for (let i = 0; i < SELECTOR_CACHE_LIMIT; i++) {
      if (i % 100 === 0) compileSelector('device.driver == "keep.example.com"');
      compileSelector(`device.driver == "filler-${i}.example.com"`);
    }
    expect(compileSelector('device.driver == "keep.example.com"')).toBe(keep);
    expect(compileSelector('device.driver == "old.example.com"')).not.toBe(old);
  });
});

describe('Kubernetes quantity library', () => {
  it.each([
    'quantity("200M") == quantity("0.2G")',
    'quantity("50M").compareTo(quantity("50Mi")) == -1',
    'quantity("50Mi").compareTo(quantity("50M")) == 1',
    'quantity("150Mi").isGreaterThan(quantity("100Mi"))',
    'quantity("50M").isLessThan(quantity("100M"))',
    'quantity("50k").add(quantity("20")) == quantity("50.02k")',
    'quantity("50k").sub(20) == quantity("49980")',
    'quantity("50k").add(20).sub(quantity("100k")).sub(-50000).asInteger() == 20',
    'quantity("50k").asInteger() == 50000',
    'quantity("50.703k").asApproximateFloat() == 50703.0',
    'isQuantity("1.3Gi") && !isQuantity("1,3G") && !isQuantity("200K")',
    'quantity("9999999999999999999999999999999999999G").isInteger() == false',
    'quantity("0.1n") == quantity("1n") && quantity("0.1m") == quantity("100u")',
    'quantity("1Gi") == quantity("1024Mi")',
  ])('%s', (expression) => {
    expect(evaluate(expression)).toBe(true);
  });

  it("compares a Quantity only with a Quantity, with upstream's quirk for sums", () => {
    const device = plain({ capacity: { memory: '40Gi' } });
    const mem = 'device.capacity["dra.example.com"].memory';
    expect(evaluate(`${mem}.add(quantity("1Gi")) == quantity("41Gi")`, device)).toBe(true);
    // Upstream fails when the right-hand side is a sum (it is a pointer there).
    expect(evalError(`quantity("41Gi") == ${mem}.add(quantity("1Gi"))`, device).detail).toBe(
      'no such overload',
    );
    const attrs = plain({ attributes: { fw: { version: '1.2.3' } } });
    expect(evalError('device.attributes["dra.example.com"].fw == "1.2.3"', attrs).detail).toBe(
      'no such overload',
    );
    expect(evaluate('"1.2.3" == device.attributes["dra.example.com"].fw', attrs)).toBe(false);
  });

  it('follows the int64 fast path that decides isInteger', () => {
    expect(evaluate('quantity("1.5k").isInteger()')).toBe(true);
    expect(evaluate('quantity("1.5Gi").isInteger()')).toBe(false);
    expect(evaluate('quantity("100Ti").isInteger()')).toBe(false);
    expect(evaluate('quantity("1000m").isInteger()')).toBe(false);
  });

  it('reports parse and conversion errors', () => {
    expect(evalError('quantity("10Mo") == quantity("1")', plain()).detail).toMatch(
      /^quantities must match the regular expression/,
    );
    expect(evalError('quantity("10Mm") == quantity("1")', plain()).detail).toBe(
      "unable to parse quantity's suffix",
    );
    expect(
      evalError('quantity("9999999999999999999999999999999999999G").asInteger() == 1', plain())
        .detail,
    ).toBe('cannot convert value to integer');
  });

  it('orders byte counts like their numeric values (property)', () => {
    const bytes = fc.integer({ min: 0, max: 2 ** 50 });
    fc.assert(
      fc.property(bytes, bytes, (a, b) => {
        const [qa, qb] = [formatBytes(a), formatBytes(b)];
        const want = Math.sign((parseQuantity(qa) ?? 0) - (parseQuantity(qb) ?? 0));
        expect(evaluate(`quantity("${qa}").compareTo(quantity("${qb}")) == ${want}`)).toBe(true);
        expect(
          evaluate(`quantity("${qa}").add(quantity("${qb}")) == quantity("${formatBytes(a + b)}")`),
        ).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});

describe('Kubernetes semver library', () => {
  it.each([
    'semver("1.2.3").compareTo(semver("1.2.3")) == 0',
    'semver("1.2.3").compareTo(semver("2.0.0")) == -1',
    'semver("1.2.3").compareTo(semver("0.1.2")) == 1',
    'semver("1.0.0-alpha").isLessThan(semver("1.0.0-alpha.1"))',
    'semver("1.0.0-rc.1").isLessThan(semver("1.0.0"))',
    'semver("1.0.0-2").isLessThan(semver("1.0.0-10"))',
    'semver("1.2.3").major() == 1 && semver("1.2.3").minor() == 2 && semver("1.2.3").patch() == 3',
    'semver("v1.0", true) == semver("1.0.0")',
    'semver("01.01.01", true).isGreaterThan(semver("1.1.0"))',
    'isSemver("1.0.0") && !isSemver("hello") && !isSemver("v1.0") && isSemver("v1.0", true)',
  ])('%s', (expression) => {
    expect(evaluate(expression)).toBe(true);
  });

  it('reports versions that do not parse', () => {
    expect(evalError('semver("01.2.3") == semver("1.2.3")', plain()).detail).toBe(
      'Major number must not contain leading zeroes "01"',
    );
  });
});
