/**
 * The real kubelet registers each node's plugin through its plugin watcher, and the real API
 * server accepts the ResourceSlices of every fake profile in the layout its version calls for.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateSlices } from '../../src/driver/slices.ts';
import { ensureCluster, metricValue, waitFor } from '../helpers/cluster.ts';

const c = await ensureCluster();

describe('kubelet registration and ResourceSlices on a real cluster', () => {
  // Kubelet logs and plugin metrics ports are reachable on the local harness only.
  it.runIf(c.local).each(c.state.nodes.map((n) => n.name))(
    'kubelet on %s registered the plugin (log and metrics)',
    async (name) => {
      const log = c.supervisor.tail(`kubelet-${name}`, 5000);
      expect(log).toMatch(/"Connection changed".*driverName="gpu\.phalanx\.dev".*connected=true/);
      await waitFor(
        'registered gauge',
        async () =>
          metricValue(await c.pluginMetrics(name), 'phalanx_driver_kubelet_registered') === 1,
        20_000,
      );
      const metrics = await c.pluginMetrics(name);
      expect(
        metricValue(metrics, 'phalanx_driver_kubelet_registrations_total{result="success"}'),
      ).toBeGreaterThanOrEqual(1);
    },
  );

  it.each(c.state.nodes.map((n) => [n.name, n.fakeGpus.profile] as const))(
    'the API server accepted the slices of %s (%s) within every limit',
    async (name) => {
      await waitFor(`slices of ${name}`, async () => (await c.slices(name)).length > 0, 30_000);
      const slices = await c.slices(name);
      expect(validateSlices(slices, c.state.minor)).toEqual([]);
      const generations = new Set(slices.map((s) => s.spec.pool.generation));
      expect(generations.size).toBe(1);
      for (const slice of slices) {
        expect(slice.spec.pool.resourceSliceCount).toBe(slices.length);
        expect(slice.metadata.ownerReferences?.[0]).toMatchObject({
          kind: 'Node',
          name,
          controller: true,
        });
      }
      if (c.local) {
        const metrics = await c.pluginMetrics(name);
        expect(metricValue(metrics, 'phalanx_driver_resourceslices')).toBe(slices.length);
      }
    },
  );

  it('uses the layout the API server version calls for', async () => {
    const slices = await c.slices(c.role('sxm'));
    const withCounters = slices.filter((s) => (s.spec.sharedCounters?.length ?? 0) > 0);
    const mixed = withCounters.filter((s) => (s.spec.devices?.length ?? 0) > 0);
    const layout =
      withCounters.length === 0 ? 'whole-gpus' : mixed.length === 0 ? 'split' : 'combined';
    const partitionsOn =
      c.state.minor >= 36 || c.state.featureGates.includes('DRAPartitionableDevices=true');
    const expected = !partitionsOn ? 'whole-gpus' : c.state.minor >= 35 ? 'split' : 'combined';
    expect(layout).toBe(expected);
    if (!c.local) return;
    const metrics = await c.pluginMetrics(c.role('sxm'));
    expect(metricValue(metrics, `phalanx_driver_resourceslice_layout{layout="${expected}"}`)).toBe(
      1,
    );
    expect(metricValue(metrics, 'phalanx_driver_partitions_disabled')).toBe(partitionsOn ? 0 : 1);
    if (!partitionsOn) {
      expect(c.supervisor.tail(`plugin-${c.role('sxm')}`, 2000)).toContain(
        'feature gate DRAPartitionableDevices is off',
      );
    }
    const gates = c.state.featureGates === '' ? 'default gates' : c.state.featureGates;
    process.stdout.write(
      `server 1.${c.state.minor} (${gates}): layout ${layout}, ${slices.length} slices on ${c.role('sxm')}\n`,
    );
  });

  it.runIf(c.local)(
    'removes its sockets on SIGTERM, and the kubelet sees it leave and come back',
    async () => {
      const node = c.node(c.role('pcie'));
      const registry = join(node.kubeletRoot, 'plugins_registry');
      const before = c.supervisor.tail(`kubelet-${c.role('pcie')}`, 100_000).split('\n').length;
      expect(readdirSync(registry)).toContain('gpu.phalanx.dev-reg.sock');
      await c.supervisor.stop(`plugin-${c.role('pcie')}`, 'SIGTERM');
      expect(readdirSync(registry)).not.toContain('gpu.phalanx.dev-reg.sock');
      expect(existsSync(join(node.kubeletRoot, 'plugins', 'gpu.phalanx.dev', 'dra.sock'))).toBe(
        false,
      );
      await waitFor(
        'the kubelet to notice the plugin left',
        () =>
          c.supervisor
            .tail(`kubelet-${c.role('pcie')}`, 100_000)
            .split('\n')
            .slice(before)
            .some((line) =>
              /"OperationExecutor\.UnregisterPlugin started".*gpu\.phalanx\.dev-reg\.sock/.test(
                line,
              ),
            ),
        30_000,
        250,
      );
      await c.harness().startPlugin(node);
      expect(readdirSync(registry)).toContain('gpu.phalanx.dev-reg.sock');
    },
  );
});
