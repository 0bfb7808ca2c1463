/**
 * Entry of the plugin process in the benchmark's `process` topology: forked by
 * `plugin-topology.ts` with an IPC channel, it runs the plugin server (`startPluginServer`) and
 * answers the benchmark's requests (`plugin-ipc.ts`). The kubelet client stays in the parent, as
 * the kubelet is a separate process in a cluster.
 *
 * Exits when the parent closes the channel (after `close`, or when the parent dies).
 */
import { isPluginRequest, type PluginReply, PluginRequestHandler } from './plugin-ipc.ts';

function serve(send: (reply: PluginReply) => void): void {
  const handler = new PluginRequestHandler();
  process.on('message', (message: unknown) => {
    if (!isPluginRequest(message)) return;
    void handler.reply(message).then(send);
  });
  process.on('disconnect', () => {
    void handler.close().finally(() => process.exit(0));
  });
}

const send = process.send?.bind(process);
if (send === undefined) {
  process.stderr.write(
    'plugin-process.ts is started by bench/plugin-prepare.ts --topology process; run that instead\n',
  );
  process.exitCode = 2;
} else {
  serve((reply) => {
    send(reply);
  });
}
