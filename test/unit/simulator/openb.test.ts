import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  parseNodeCsv,
  parsePodCsv,
  readNodeCsv,
  readPodCsv,
  splitCsvLine,
} from '../../../src/simulator/openb.ts';

const MIB = 2 ** 20;
const dir = mkdtempSync(join(tmpdir(), 'phalanx-openb-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NODES = `sn,cpu_milli,memory_mib,gpu,model
node-a,64000,262144,2,P100
node-b,96000,786432,0,nan
`;
const PODS_DEFAULT = `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
pod-0,12000,16384,1,1000,,LS,Running,0,10,0
pod-1,6000,12288,1,460,V100M16|V100M32,LS,Running,1,10,1
pod-2,4000,8192,0,0,,BE,Running,2,10,2
pod-3,8000,8192,8,1000,,LS,Running,3,10,3
pod-4,1000,1024,1,1500,,LS,Running,4,10,4
`;
const PODS_SHORT = `name,cpu_milli,memory_mib,num_gpu,gpu_milli
pod-0,12000,16384,2,1000
pod-1,100,0,0,300
`;

describe('openb CSV readers', () => {
  it('reads nodes with one GPU spec per GPU of the node model', () => {
    const nodes = parseNodeCsv(NODES, 'nodes.csv');
    expect(nodes).toEqual([
      {
        name: 'node-a',
        cpuMilli: 64_000,
        memoryBytes: 262_144 * MIB,
        gpus: [{ model: 'P100' }, { model: 'P100' }],
      },
      { name: 'node-b', cpuMilli: 96_000, memoryBytes: 786_432 * MIB, gpus: [] },
    ]);
  });

  it('reads the default pod format into shapes', () => {
    const pods = parsePodCsv(PODS_DEFAULT, 'pods.csv');
    expect(pods.map((p) => [p.name, p.line])).toEqual([
      ['pod-0', 2],
      ['pod-1', 3],
      ['pod-2', 4],
      ['pod-3', 5],
      ['pod-4', 6],
    ]);
    expect(pods[0]?.shape).toEqual({
      cpuMilli: 12_000,
      memoryBytes: 16_384 * MIB,
      gpuCount: 1,
      gpuMilli: 1000,
      gpuModels: [],
    });
    expect(pods[1]?.shape).toMatchObject({
      gpuCount: 1,
      gpuMilli: 460,
      gpuModels: ['V100M16', 'V100M32'],
    });
    expect(pods[2]?.shape).toMatchObject({ gpuCount: 0, gpuMilli: 0 });
    expect(pods[3]?.shape).toMatchObject({ gpuCount: 8, gpuMilli: 1000 });
    // gpu_milli above 1000 counts as one whole GPU.
    expect(pods[4]?.shape).toMatchObject({ gpuCount: 1, gpuMilli: 1000 });
  });

  it('reads the five-column format, ignoring gpu_milli of pods without GPUs', () => {
    const pods = parsePodCsv(PODS_SHORT, 'short.csv');
    expect(pods[0]?.shape).toMatchObject({ gpuCount: 2, gpuMilli: 1000, gpuModels: [] });
    expect(pods[1]?.shape).toMatchObject({
      cpuMilli: 100,
      memoryBytes: 0,
      gpuCount: 0,
      gpuMilli: 0,
    });
  });

  it('finds columns by header name, in any order', () => {
    const pods = parsePodCsv('gpu_milli,num_gpu,name,memory_mib,cpu_milli\n250,1,x,10,500\n', 'f');
    expect(pods[0]).toMatchObject({ name: 'x', shape: { cpuMilli: 500, gpuMilli: 250 } });
  });

  it.each([
    [
      'name,cpu_milli,memory_mib,num_gpu,gpu_milli\na,1,1,1,1000\nb,2,2,x,1000\n',
      'pods.csv line 3: num_gpu "x" is not an integer',
    ],
    [
      'name,cpu_milli,memory_mib,num_gpu\na,1,1,1\n',
      'pods.csv line 1: the header lacks "gpu_milli"',
    ],
    [
      'name,cpu_milli,memory_mib,num_gpu,gpu_milli\na,1,1,2,500\n',
      'pods.csv line 2: num_gpu 2 with gpu_milli 500: a share of a GPU needs num_gpu 1',
    ],
    [
      'name,cpu_milli,memory_mib,num_gpu,gpu_milli\na,1,1,1\n',
      'pods.csv line 2: 4 fields, but the header names 5',
    ],
    [
      'name,cpu_milli,memory_mib,num_gpu,gpu_milli\na,1,1,1,1\na,1,1,1,1\n',
      'pods.csv line 3: name "a" appears twice (first on line 2)',
    ],
    [
      'name,cpu_milli,memory_mib,num_gpu,gpu_milli\na,-5,1,1,1\n',
      'pods.csv line 2: cpu_milli "-5" is not an integer',
    ],
  ])('rejects bad pod rows with file, line and column (%#)', (text, message) => {
    expect(() => parsePodCsv(text, 'pods.csv')).toThrow(message);
  });

  it('rejects a GPU node without a model', () => {
    expect(() =>
      parseNodeCsv('sn,cpu_milli,memory_mib,gpu,model\nn,1,1,4,\n', 'nodes.csv'),
    ).toThrow('nodes.csv line 2: model is empty but gpu is 4; name the GPU model');
  });

  it('splits quoted fields', () => {
    expect(splitCsvLine('a,"b,c","d""e",')).toEqual(['a', 'b,c', 'd"e', '']);
  });

  it('reads files with their sha256 and names the file in errors', () => {
    const nodesPath = join(dir, 'nodes.csv');
    const podsPath = join(dir, 'openb_pod_list_bad.csv');
    writeFileSync(nodesPath, NODES);
    writeFileSync(podsPath, 'name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,one,1\n');
    const nodes = readNodeCsv(nodesPath);
    expect(nodes.sha256).toBe(createHash('sha256').update(NODES).digest('hex'));
    expect(nodes.rows).toHaveLength(2);
    expect(() => readPodCsv(podsPath)).toThrow(
      'openb_pod_list_bad.csv line 2: num_gpu "one" is not an integer',
    );
    expect(() => readPodCsv(join(dir, 'missing.csv'))).toThrow(
      /cannot read .*missing\.csv \(ENOENT\)/,
    );
  });
});
