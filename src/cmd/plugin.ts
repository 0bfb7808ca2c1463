/**
 * `phalanx plugin`: the DRA kubelet plugin gpu.phalanx.dev. Flags → config → start → close on
 * SIGTERM/SIGINT (sockets removed, so the kubelet sees the plugin leave).
 */
import closeWithGrace from 'close-with-grace';
import { parseCommandLine, usage } from '../config/flags.ts';
import { PLUGIN_FLAGS } from '../config/plugin.ts';
import { startKubeletPlugin } from '../driver/plugin.ts';
import type { SliceLayout } from '../driver/slices.ts';
import { createLogger } from '../observability/logger.ts';
import { DriverMetrics } from '../observability/metrics.ts';

export async function main(argv: readonly string[]): Promise<number> {
  const { values: flags, help } = parseCommandLine('plugin', PLUGIN_FLAGS, argv, process.env);
  if (help) {
    process.stdout.write(
      usage('plugin', 'Run the DRA kubelet plugin gpu.phalanx.dev on this node.', PLUGIN_FLAGS),
    );
    return 0;
  }
  const logger = createLogger({
    component: 'kubelet-plugin',
    verbosity: flags.v,
    node: flags['node-name'],
  });
  const metrics = new DriverMetrics({ defaultMetrics: true });
  const plugin = await startKubeletPlugin(
    {
      nodeName: flags['node-name'],
      kubeletRoot: flags['kubelet-root'],
      pluginDataDir: flags['plugin-data-dir'],
      cdiRoot: flags['cdi-root'],
      podUid: flags['pod-uid'],
      kubeconfig: flags.kubeconfig,
      fakeGpus: flags['fake-gpus'],
      fakeGpusConfig: flags['fake-gpus-config'],
      sliceLayout: flags['slice-layout'] as 'auto' | SliceLayout,
      deviceTaints: flags['device-taints'],
      prepareTimeoutMs: flags['prepare-timeout'] * 1000,
      resyncIntervalMs: flags['resync-interval'] * 1000,
      metricsAddress: flags['metrics-address'],
      healthcheckAddress: flags['healthcheck-address'],
    },
    logger,
    metrics,
  );
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'Stopping after an unexpected error');
    else logger.info({ signal }, 'Stopping');
    await plugin.close();
  });
  return 0;
}
