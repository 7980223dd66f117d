// anchor-relay.js -- the anchor relay of bench/relay.bench.js: the
// @nostr-relay/core relay (NIP-01, NIP-11-less, no NIP-77) wired as its
// README documents it -- a `ws` WebSocketServer, @nostr-relay/validator
// for the incoming frames, and @nostr-relay/event-repository-sqlite
// (better-sqlite3, WAL) as its storage -- listening on 127.0.0.1 on an
// ephemeral port, its database in a fresh temp directory. Nothing is
// tuned: signature verification is on (core's default, EventUtils.validate
// checks the id and the BIP-340 signature with @noble/curves), and the
// relay options are its defaults (notably a 1 s cache of filter results,
// which the REQ bench sidesteps by never repeating a filter).
//
//   const r = await startAnchorRelay();
//   r.url      // 'ws://127.0.0.1:PORT/'
//   await r.close();   // closes clients, the server, the database; removes the directory

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { NostrRelay } from '@nostr-relay/core';
import { LogLevel, createOutgoingNoticeMessage } from '@nostr-relay/common';
import { EventRepositorySqlite } from '@nostr-relay/event-repository-sqlite';
import { Validator } from '@nostr-relay/validator';

export async function startAnchorRelay({ host = '127.0.0.1', port = 0, logLevel = LogLevel.WARN } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'hiroba-anchor-relay-'));
  const eventRepository = new EventRepositorySqlite(join(dir, 'relay.db'));
  await eventRepository.init();
  const relay = new NostrRelay(eventRepository, { logLevel });
  const validator = new Validator();

  const wss = new WebSocketServer({ host, port });
  wss.on('connection', (ws) => {
    relay.handleConnection(ws);
    ws.on('message', async (data) => {
      try {
        const message = await validator.validateIncomingMessage(data);
        await relay.handleMessage(ws, message);
      } catch (error) {
        if (error instanceof Error && ws.readyState === ws.OPEN) {
          ws.send(JSON.stringify(createOutgoingNoticeMessage(error.message)));
        }
      }
    });
    ws.on('close', () => relay.handleDisconnect(ws));
    ws.on('error', () => {});
  });
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const { port: bound } = wss.address();

  let closed = false;
  return {
    url: `ws://${host}:${bound}/`,
    relay,
    async close() {
      if (closed) return;
      closed = true;
      for (const ws of wss.clients) ws.terminate();
      await new Promise((resolve) => wss.close(() => resolve()));
      await relay.destroy();
      await eventRepository.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
