/**
 * The real kubelet registers each node's plugin through its plugin watcher, and the real API
 * server accepts the ResourceSlices of every fake profile in the layout its version calls for.
 */
import { describe, expect, it } from 'vitest';
import { validateSlices } from '../../src/driver/slices.ts';
import { ensureCluster, metricValue, waitFor } from '../helpers/cluster.ts';

const c = await ensureCluster();

describe('kubelet registration and ResourceSlices on a real cluster', () => {
  it.each(c.state.nodes.map((n) => n.name))(
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
      const metrics = await c.pluginMetrics(name);
      expect(metricValue(metrics, 'phalanx_driver_resourceslices')).toBe(slices.length);
    },
  );

  it('uses the layout the API server version calls for', async () => {
    const slices = await c.slices('node-a');
    const withCounters = slices.filter((s) => (s.spec.sharedCounters?.length ?? 0) > 0);
    expect(withCounters.length).toBeGreaterThan(0);
    const mixed = withCounters.filter((s) => (s.spec.devices?.length ?? 0) > 0);
    const expected = c.state.minor >= 35 ? 'split' : 'combined';
    expect(mixed.length === 0 ? 'split' : 'combined').toBe(expected);
    const metrics = await c.pluginMetrics('node-a');
    expect(metricValue(metrics, `phalanx_driver_resourceslice_layout{layout="${expected}"}`)).toBe(
      1,
    );
    process.stdout.write(
      `server 1.${c.state.minor}: layout ${expected}, ${slices.length} slices on node-a\n`,
    );
  });
});
