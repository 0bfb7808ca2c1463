import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  isPluginReply,
  isPluginRequest,
  PluginRequestHandler,
} from '../../../bench/lib/plugin-ipc.ts';

describe('plugin IPC messages', () => {
  it('recognises requests by id, known operation and input', () => {
    expect(isPluginRequest({ id: 1, op: 'reset', input: null })).toBe(true);
    expect(isPluginRequest({ id: 2, op: 'fileSizes', input: { claimUid: 'u' } })).toBe(true);
    expect(isPluginRequest({ id: 1, op: 'explode', input: null })).toBe(false);
    expect(isPluginRequest({ id: '1', op: 'reset', input: null })).toBe(false);
    expect(isPluginRequest({ id: 1, op: 'reset' })).toBe(false);
    expect(isPluginRequest(null)).toBe(false);
  });

  it('recognises replies that carry a value or an error', () => {
    expect(isPluginReply({ id: 1, ok: true, value: null })).toBe(true);
    expect(isPluginReply({ id: 1, ok: false, error: 'no' })).toBe(true);
    expect(isPluginReply({ id: 1, ok: false })).toBe(false);
    expect(isPluginReply({ id: 1, ok: true })).toBe(false);
    expect(isPluginReply('reply')).toBe(false);
  });
});

describe('PluginRequestHandler', () => {
  let root: string;
  let handler: PluginRequestHandler;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'bench-ipc-'));
    handler = new PluginRequestHandler();
  });
  afterEach(async () => {
    await handler.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses work before start, with the request id on the error reply', async () => {
    await expect(handler.reply({ id: 7, op: 'collect', input: null })).resolves.toEqual({
      id: 7,
      ok: false,
      error: 'plugin is not started; send start before collect',
    });
  });

  it('starts the plugin once, resets and collects its counters, and closes it', async () => {
    const options = { root, nodeName: 'node-x', profile: 'sxm8-80g' };
    const started = await handler.reply({ id: 1, op: 'start', input: options });
    expect(started.ok).toBe(true);
    const socket = started.ok ? (started.value as { registrationSocket: string }) : undefined;
    expect(socket?.registrationSocket.startsWith(root)).toBe(true);
    expect(existsSync(socket?.registrationSocket ?? '')).toBe(true);

    await expect(handler.reply({ id: 2, op: 'start', input: options })).resolves.toEqual({
      id: 2,
      ok: false,
      error: 'plugin is already started',
    });
    await expect(handler.reply({ id: 3, op: 'reset', input: null })).resolves.toEqual({
      id: 3,
      ok: true,
      value: null,
    });
    await expect(handler.reply({ id: 4, op: 'collect', input: null })).resolves.toEqual({
      id: 4,
      ok: true,
      value: { phases: {}, checkpointWrites: 0 },
    });
    const sizes = await handler.reply({ id: 5, op: 'fileSizes', input: { claimUid: 'none' } });
    expect(sizes).toMatchObject({ id: 5, ok: false });

    await expect(handler.reply({ id: 6, op: 'close', input: null })).resolves.toEqual({
      id: 6,
      ok: true,
      value: null,
    });
    expect(existsSync(socket?.registrationSocket ?? '')).toBe(false);
    await expect(handler.reply({ id: 8, op: 'reset', input: null })).resolves.toEqual({
      id: 8,
      ok: false,
      error: 'plugin is closed; cannot reset',
    });
  });
});
