// relay.d.ts -- 'hiroba/relay' (Node): a Nostr relay on the Hiroba engine
// (NIP-01, 09, 11, 42, 45, 77), as a request handler or a whole server.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Feed } from './feed.js';

/** Every limit with its default (README "Relay"). */
export const RELAY_LIMITS: Readonly<Record<string, number>>;

export interface RelayOptions {
  /** The SQLite database file. */
  db: string;
  /** NIP-11 fields. */
  name?: string;
  description?: string;
  contact?: string;
  /** Pubkeys (hex) that may write; null (default): anyone. */
  allow?: Iterable<string> | null;
  /** Also whom the allowed pubkeys follow (their newest kind 3). */
  allowFollows?: boolean;
  /** Require NIP-42 AUTH before writing or reading. */
  auth?: { write?: boolean; read?: boolean };
  /** The database's size budget in bytes (0: none). */
  maxBytes?: number;
  /** Overrides of RELAY_LIMITS. */
  limits?: Partial<Record<string, number>>;
  /** Take the client address from X-Forwarded-For (behind a proxy you run). */
  trustProxy?: boolean;
}

export interface Relay {
  readonly limits: Record<string, number>;
  /** The relay's own feed (every valid event it keeps). */
  readonly feed: Feed;
  /** The NIP-11 document. */
  info(): Record<string, unknown>;
  /** Takes a WebSocket upgrade (an http server's 'upgrade' event). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Answers HTTP: the NIP-11 document to Accept: application/nostr+json, a short text otherwise. */
  handleInfo(req: IncomingMessage, res: ServerResponse): void;
  stats(): Record<string, number>;
  /** Closes every connection, then the database. */
  close(): Promise<void>;
}

export function createRelay(options: RelayOptions): Promise<Relay>;

export interface RunningRelay {
  /** ws://host:port/ */
  url: string;
  /** http://host:port/ (NIP-11) */
  httpUrl: string;
  port: number;
  relay: Relay;
  /** The HTTP server it listens on. */
  server: import('node:http').Server;
  /** Closes the relay, then the server. */
  close(): Promise<void>;
}

/** A relay listening on host:port (defaults 127.0.0.1:7777; port 0 picks a free one). */
export function startRelay(options: RelayOptions & { port?: number; host?: string }): Promise<RunningRelay>;
