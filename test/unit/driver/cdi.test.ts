import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BackendPreparedDevice } from '../../../src/devices/types.ts';
import {
  buildClaimSpec,
  type CdiSpec,
  CdiSpecStore,
  cdiDeviceId,
  claimUidFromFileName,
  deviceEnvKey,
  minimumCdiVersion,
  parseClaimSpec,
} from '../../../src/driver/cdi.ts';

/** Paths whose FileHandle was fsynced (files and directories alike). */
const synced = vi.hoisted((): string[] => []);

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof actual.open = async (...args) => {
    const handle = await actual.open(...args);
    const sync = handle.sync.bind(handle);
    handle.sync = async () => {
      synced.push(String(args[0]));
      await sync();
    };
    return handle;
  };
  return { ...actual, open };
});

const UID_LETTER = 'a1b2c3d4-0000-4000-8000-000000000001';
const UID_DIGIT = '7f3e9c1a-0000-4000-8000-000000000002';

function prepared(
  deviceName: string,
  uuid: string,
  profile = 'full',
  env: Record<string, string> = {},
): BackendPreparedDevice {
  return { deviceName, uuid, gpuUuid: 'GPU-parent', gpuIndex: 3, profile, env };
}

const input = (uid: string) => ({
  claimUid: uid,
  namespace: 'team-a',
  name: 'train-0',
  devices: [
    {
      prepared: prepared('gpu-3', 'GPU-aaaa', 'full', {
        PHALANX_GPU_UUID: 'GPU-aaaa',
        PHALANX_DEVICE_PROFILE: 'full',
        PHALANX_SHARING_STRATEGY: 'TimeSlicing',
      }),
      sharing: { strategy: 'TimeSlicing', interval: 'Short' } as const,
    },
    {
      prepared: prepared('gpu-3-1g-10gb-2', 'MIG-bbbb', '1g.10gb'),
      sharing: { strategy: 'SpacePartitioning', partitionCount: 4 } as const,
    },
  ],
});

const envNames = (env: readonly string[] | undefined) =>
  (env ?? []).map((e) => e.slice(0, e.indexOf('=')));

describe('names', () => {
  it('builds fully-qualified ids with the claim UID', () => {
    expect(cdiDeviceId(UID_LETTER, 'gpu-0')).toBe(`k8s.gpu.phalanx.dev/claim=${UID_LETTER}-gpu-0`);
  });
  it('maps device names to env keys without collisions between devices', () => {
    expect(deviceEnvKey('gpu-3')).toBe('3');
    expect(deviceEnvKey('gpu-3-1g-10gb-2')).toBe('3_1G_10GB_2');
    expect(deviceEnvKey('nic-0')).toBe('DEVICE_NIC_0');
  });
  it('recognises only this driver\u2019s spec files', () => {
    expect(claimUidFromFileName(`k8s.gpu.phalanx.dev-claim_${UID_DIGIT}.json`)).toBe(UID_DIGIT);
    expect(claimUidFromFileName(`k8s.gpu.nvidia.com-claim_${UID_DIGIT}.json`)).toBeUndefined();
    expect(claimUidFromFileName(`k8s.gpu.phalanx.dev-claim_${UID_DIGIT}.yaml`)).toBeUndefined();
    expect(claimUidFromFileName('k8s.gpu.phalanx.dev-claim_../x.json')).toBeUndefined();
    expect(
      claimUidFromFileName(`.k8s.gpu.phalanx.dev-claim_${UID_DIGIT}.json.tmp-1-ab`),
    ).toBeUndefined();
  });
});

describe('buildClaimSpec', () => {
  it('writes per-device and per-claim environment deterministically', () => {
    const spec = buildClaimSpec(input(UID_LETTER));
    expect(spec.kind).toBe('k8s.gpu.phalanx.dev/claim');
    expect(spec.cdiVersion).toBe('0.3.0');
    expect(spec.devices.map((d) => d.name)).toEqual([
      `${UID_LETTER}-gpu-3`,
      `${UID_LETTER}-gpu-3-1g-10gb-2`,
    ]);
    expect(spec.devices[0]?.containerEdits.env).toEqual([
      'PHALANX_GPU_3=GPU-aaaa',
      'PHALANX_GPU_3_DEVICE=gpu-3',
      'PHALANX_GPU_3_PROFILE=full',
      'PHALANX_GPU_3_PARENT_UUID=GPU-parent',
      'PHALANX_GPU_3_INDEX=3',
      'PHALANX_GPU_3_RESOURCE_CLAIM=team-a/train-0',
      'PHALANX_GPU_3_SHARING_STRATEGY=TimeSlicing',
      'PHALANX_GPU_3_TIMESLICE_INTERVAL=Short',
      // backend variables, renamed and sorted; the duplicate SHARING_STRATEGY is left out
      'PHALANX_GPU_3_DEVICE_PROFILE=full',
      'PHALANX_GPU_3_GPU_UUID=GPU-aaaa',
    ]);
    expect(spec.devices[1]?.containerEdits.env).toContain(
      'PHALANX_GPU_3_1G_10GB_2_PARTITION_COUNT=4',
    );
    // Sharing differs between the devices, so no claim-level sharing variables.
    expect(spec.containerEdits?.env).toEqual([
      'PHALANX_RESOURCE_CLAIM=team-a/train-0',
      `PHALANX_RESOURCE_CLAIM_UID=${UID_LETTER}`,
      'PHALANX_VISIBLE_DEVICES=GPU-aaaa,MIG-bbbb',
    ]);
    expect(buildClaimSpec(input(UID_LETTER))).toEqual(spec);
  });

  it('has no duplicate env names within a device or across the spec', () => {
    const spec = buildClaimSpec(input(UID_LETTER));
    const all = [
      ...envNames(spec.containerEdits?.env),
      ...spec.devices.flatMap((d) => envNames(d.containerEdits.env)),
    ];
    expect(new Set(all).size).toBe(all.length);
    for (const name of all) expect(name).toMatch(/^[A-Z_][A-Z0-9_]*$/);
  });

  it('adds claim-level sharing variables when all devices agree', () => {
    const spec = buildClaimSpec({
      claimUid: UID_LETTER,
      namespace: 'ns',
      name: 'c',
      devices: [
        {
          prepared: prepared('gpu-0', 'GPU-0'),
          sharing: { strategy: 'TimeSlicing', interval: 'Long' },
        },
        {
          prepared: prepared('gpu-1', 'GPU-1'),
          sharing: { strategy: 'TimeSlicing', interval: 'Long' },
        },
      ],
    });
    expect(spec.containerEdits?.env).toContain('PHALANX_SHARING_STRATEGY=TimeSlicing');
    expect(spec.containerEdits?.env).toContain('PHALANX_TIMESLICE_INTERVAL=Long');
  });

  it('emits a device shared by two requests once', () => {
    const one = {
      prepared: prepared('gpu-0', 'GPU-0'),
      sharing: { strategy: 'Exclusive' } as const,
    };
    const spec = buildClaimSpec({
      claimUid: UID_LETTER,
      namespace: 'n',
      name: 'c',
      devices: [one, one],
    });
    expect(spec.devices).toHaveLength(1);
  });

  it('needs 0.5.0 when the claim UID starts with a digit', () => {
    expect(buildClaimSpec(input(UID_DIGIT)).cdiVersion).toBe('0.5.0');
  });

  it('round-trips through parseClaimSpec', () => {
    const spec = buildClaimSpec(input(UID_DIGIT));
    expect(parseClaimSpec(UID_DIGIT, JSON.parse(JSON.stringify(spec)))).toEqual({
      claimUid: UID_DIGIT,
      namespace: 'team-a',
      name: 'train-0',
      devices: [
        { deviceName: 'gpu-3', sharing: { strategy: 'TimeSlicing', interval: 'Short' } },
        {
          deviceName: 'gpu-3-1g-10gb-2',
          sharing: { strategy: 'SpacePartitioning', partitionCount: 4 },
        },
      ],
    });
    expect(parseClaimSpec(UID_LETTER, spec)).toBeUndefined();
    expect(parseClaimSpec(UID_DIGIT, { kind: 'other/x', devices: [] })).toBeUndefined();
  });
});

describe('minimumCdiVersion', () => {
  const dev = (name: string, edits: CdiSpec['devices'][number]['containerEdits'] = {}) => ({
    name,
    containerEdits: edits,
  });
  const base = { kind: 'k8s.gpu.phalanx.dev/claim' };
  const cases: [string, Omit<CdiSpec, 'cdiVersion'>, string][] = [
    ['env only', { ...base, devices: [dev('a-gpu-0', { env: ['A=1'] })] }, '0.3.0'],
    ['dots inside a device name', { ...base, devices: [dev('a.b')] }, '0.3.0'],
    [
      'mount without type',
      { ...base, devices: [dev('a', { mounts: [{ hostPath: '/h', containerPath: '/c' }] })] },
      '0.3.0',
    ],
    [
      'mount type',
      {
        ...base,
        devices: [dev('a')],
        containerEdits: { mounts: [{ hostPath: '/h', containerPath: '/c', type: 'bind' }] },
      },
      '0.4.0',
    ],
    [
      'deviceNodes hostPath',
      { ...base, devices: [dev('a', { deviceNodes: [{ path: '/dev/x', hostPath: '/dev/y' }] })] },
      '0.5.0',
    ],
    ['device name starting with a digit', { ...base, devices: [dev('0abc')] }, '0.5.0'],
    ['spec annotations', { ...base, annotations: { a: 'b' }, devices: [dev('a')] }, '0.6.0'],
    ['empty annotations', { ...base, annotations: {}, devices: [dev('a')] }, '0.3.0'],
    [
      'device annotations',
      { ...base, devices: [{ name: 'a', annotations: { a: 'b' }, containerEdits: {} }] },
      '0.6.0',
    ],
    ['dot in the kind class', { kind: 'vendor.com/gpu.x', devices: [dev('a')] }, '0.6.0'],
    ['additionalGids', { ...base, devices: [dev('a', { additionalGids: [44] })] }, '0.7.0'],
    [
      'intelRdt',
      { ...base, devices: [dev('a')], containerEdits: { intelRdt: { closID: 'c' } } },
      '0.7.0',
    ],
    [
      'intelRdt schemata',
      { ...base, devices: [dev('a', { intelRdt: { schemata: ['L3:0=ff'] } })] },
      '1.1.0',
    ],
    [
      'netDevices',
      {
        ...base,
        devices: [dev('0a', { netDevices: [{ hostInterfaceName: 'eth1', name: 'net1' }] })],
      },
      '1.1.0',
    ],
  ];
  it.each(cases)('%s', (_label, spec, version) => {
    expect(minimumCdiVersion(spec)).toBe(version);
  });
});

describe('CdiSpecStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'phalanx-cdi-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the spec file named by claim UID, leaving no temp files', async () => {
    const store = new CdiSpecStore({ dir: join(dir, 'cdi') });
    const spec = await store.writeClaimSpec(input(UID_DIGIT));
    const files = await readdir(join(dir, 'cdi'));
    expect(files).toEqual([`k8s.gpu.phalanx.dev-claim_${UID_DIGIT}.json`]);
    const onDisk = JSON.parse(await readFile(store.specPath(UID_DIGIT), 'utf8')) as unknown;
    expect(onDisk).toEqual(spec);
    expect(await store.readClaimSpec(UID_DIGIT)).toEqual(spec);
    expect(await store.hasClaimSpec(UID_DIGIT)).toBe(true);
    expect(await store.listTempFiles()).toEqual([]);
  });

  it('overwrites atomically and removes idempotently', async () => {
    const store = new CdiSpecStore({ dir });
    await store.writeClaimSpec(input(UID_LETTER));
    const changed = { ...input(UID_LETTER), name: 'train-1' };
    await store.writeClaimSpec(changed);
    expect(JSON.stringify(await store.readClaimSpec(UID_LETTER))).toContain('team-a/train-1');
    expect(await store.removeClaimSpec(UID_LETTER)).toBe(true);
    expect(await store.removeClaimSpec(UID_LETTER)).toBe(false);
    expect(await store.hasClaimSpec(UID_LETTER)).toBe(false);
    expect(await store.readClaimSpec(UID_LETTER)).toBeUndefined();
    expect(await readdir(dir)).toEqual([]);
  });

  it('lists claim UIDs and ignores other vendors, temp files and a missing dir', async () => {
    const store = new CdiSpecStore({ dir });
    expect(await new CdiSpecStore({ dir: join(dir, 'absent') }).listClaimSpecs()).toEqual([]);
    await store.writeClaimSpec(input(UID_LETTER));
    await store.writeClaimSpec(input(UID_DIGIT));
    await writeFile(join(dir, 'k8s.gpu.nvidia.com-claim_abc.json'), '{}');
    await writeFile(join(dir, 'nvidia.yaml'), 'x');
    await writeFile(join(dir, `.k8s.gpu.phalanx.dev-claim_${UID_LETTER}.json.tmp-9-ab`), '{');
    expect(await store.listClaimSpecs()).toEqual([UID_DIGIT, UID_LETTER].sort());
  });

  it('cleans up stale temp files from a crashed write but keeps young ones', async () => {
    const store = new CdiSpecStore({ dir });
    const old = join(dir, `.k8s.gpu.phalanx.dev-claim_${UID_LETTER}.json.tmp-9-ab`);
    const young = join(dir, `.k8s.gpu.phalanx.dev-claim_${UID_DIGIT}.json.tmp-9-cd`);
    await writeFile(old, '{');
    await writeFile(young, '{');
    const past = new Date(Date.now() - 3_600_000);
    await utimes(old, past, past);
    expect(await store.removeStaleTempFiles()).toEqual([
      `.k8s.gpu.phalanx.dev-claim_${UID_LETTER}.json.tmp-9-ab`,
    ]);
    expect(await store.listTempFiles()).toEqual([
      `.k8s.gpu.phalanx.dev-claim_${UID_DIGIT}.json.tmp-9-cd`,
    ]);
  });

  it('names the path and the cause when the directory cannot be written', async () => {
    // Root can write anywhere, but nothing can create a directory below a regular file.
    await writeFile(join(dir, 'not-a-dir'), 'x');
    const store = new CdiSpecStore({ dir: join(dir, 'not-a-dir', 'cdi') });
    const path = store.specPath(UID_LETTER);
    await expect(store.writeClaimSpec(input(UID_LETTER))).rejects.toThrow(
      `cannot write CDI spec ${path}: ENOTDIR (a parent of the path is not a directory); check that the CDI directory is writable by the plugin`,
    );
  });

  it('removes its temp file when the rename fails', async () => {
    const store = new CdiSpecStore({ dir });
    // A non-empty directory where the spec should go makes rename fail after the temp write.
    await mkdir(store.specPath(UID_LETTER));
    await writeFile(join(store.specPath(UID_LETTER), 'x'), 'x');
    await expect(store.writeClaimSpec(input(UID_LETTER))).rejects.toThrow(/cannot write CDI spec/);
    expect(await store.listTempFiles()).toEqual([]);
  });

  it('writes and removes a spec atomically, without fsyncing data or directory', async () => {
    // Safe because a power loss reboots the node and startup then drops every spec (state.ts).
    const store = new CdiSpecStore({ dir });
    synced.length = 0;
    await store.writeClaimSpec(input(UID_LETTER));
    expect(synced).toEqual([]);
    expect(await store.readClaimSpec(UID_LETTER)).toEqual(buildClaimSpec(input(UID_LETTER)));
    expect(await store.listTempFiles()).toEqual([]);
    await store.removeClaimSpec(UID_LETTER);
    expect(synced).toEqual([]);
    expect(await store.listClaimSpecs()).toEqual([]);
  });

  it('creates its directory on the first write and again after it was removed', async () => {
    const store = new CdiSpecStore({ dir: join(dir, 'run', 'cdi') });
    await store.writeClaimSpec(input(UID_LETTER));
    await rm(join(dir, 'run'), { recursive: true });
    await store.writeClaimSpec(input(UID_DIGIT));
    expect(await store.listClaimSpecs()).toEqual([UID_DIGIT]);
  });

  it('refuses claim UIDs that are not UIDs', () => {
    const store = new CdiSpecStore({ dir });
    expect(() => store.specPath('../../etc/passwd')).toThrow(/is not a valid UID/);
  });
});
