// sync.d.ts -- 'hiroba/sync': keeping a feed in sync with peers (WebRTC
// rooms found through a signaling server) and with Nostr relays.

import type { Feed } from './feed.js';

/** Overrides of the per-peer budgets (README "Budgets"). */
export type Limits = Record<string, number>;

/** Progress of one connection's sync. */
export interface SyncProgress {
  /** Ids we hold that the other side lacks, and the reverse (last reconciliation). */
  have: number;
  need: number;
  /** Events accepted from it. */
  received: number;
  /** Ids wanted and not yet brought. */
  missing: number;
  /** Reconciliation and fetches finished. */
  done: boolean;
  mode: 'nip77' | 'req';
  outbox: number;
}

export interface PeerInfo {
  pubkey: string;
  state: 'connecting' | 'open' | 'closing' | 'closed';
  /** How the connection goes: "direct", "relayed" (through TURN), or null while unknown. */
  route: 'direct' | 'relayed' | null;
}

export interface JoinRoomOptions {
  /** The signaling server's WebSocket URL. */
  signalUrl: string;
  room: string;
  /** Peer connections kept at most (default 8; the least recently used goes). */
  poolSize?: number;
  /** Where to get TURN credentials (GET, NIP-98 authenticated). */
  turnUrl?: string;
  /** Close a connection idle this long (default: never). */
  idleMs?: number;
  iceTransportPolicy?: 'all' | 'relay';
  limits?: Limits;
  /** For Node: an RTCPeerConnection (e.g. from @roamhq/wrtc). */
  RTCPeerConnection?: unknown;
  /** For Node: a WebSocket class (e.g. from ws). */
  WebSocket?: unknown;
  fetch?: typeof fetch;
}

export interface Room {
  readonly peers: PeerInfo[];
  /** Bytes moved, peers dropped or kept away, and per peer what it costs. */
  stats(): {
    bytesSent: number;
    bytesReceived: number;
    dropped: number;
    banned: string[];
    peers: ({ pubkey: string } & Record<string, unknown>)[];
  };
  on(name: 'peer', fn: (peer: PeerInfo) => void): this;
  on(name: 'sync', fn: (progress: SyncProgress & { peer: string }) => void): this;
  on(name: 'error', fn: (err: Error) => void): this;
  off(name: string, fn: (...args: any[]) => void): this;
  /** Reconciles again with every connected peer (e.g. after following). */
  resync(): void;
  leave(): void;
}

/** Joins a room: finds peers through the signaling server and syncs with each. */
export function joinRoom(feed: Feed, options: JoinRoomOptions): Promise<Room>;

export interface JoinRelayOptions {
  /** ws:// or wss:// */
  url: string;
  /** Whether the relay speaks NIP-77; left out, NIP-11 and its answer decide. */
  nip77?: boolean;
  limits?: Limits;
  /** For Node: a WebSocket class (e.g. from ws). */
  WebSocket?: unknown;
  fetch?: typeof fetch;
}

export type RelayState = 'connecting' | 'open' | 'offline' | 'closed';

export interface RelayStats {
  url: string;
  state: RelayState;
  nip77: boolean | null;
  mode: 'nip77' | 'req';
  connects: number;
  bytesSent: number;
  bytesReceived: number;
  received: number;
  pushed: number;
  refused: number;
  /** Own events waiting to be sent (null while not connected). */
  outbox: number | null;
  dropped: number;
  done: boolean;
  missing: number;
  invalid: number;
  progress: SyncProgress | null;
}

export interface RelayLink {
  readonly url: string;
  readonly state: RelayState;
  stats(): RelayStats;
  on(name: 'state', fn: (info: { url: string; state: RelayState; error?: unknown }) => void): this;
  on(name: 'sync', fn: (progress: SyncProgress & { url: string }) => void): this;
  on(name: 'error', fn: (err: Error) => void): this;
  off(name: string, fn: (...args: any[]) => void): this;
  /** Syncs again; reconnects at once if the relay is down. */
  resync(): void;
  leave(): void;
}

/** Keeps a feed in sync with one relay: fetches followed authors, pushes own events, stays live. */
export function joinRelay(feed: Feed, options: JoinRelayOptions): Promise<RelayLink>;

/** A STUN or TURN server, as RTCPeerConnection takes it. */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface PairOptions {
  /** STUN/TURN servers; without any, only host candidates (the same LAN). */
  iceServers?: IceServer[];
  iceTransportPolicy?: 'all' | 'relay';
  /** The app a text is for (default "hiroba"); a text for another app is refused. */
  app?: string;
  /** How long ICE gathering is waited for (default 5000 ms); what is gathered by then goes in. */
  gatherMs?: number;
  limits?: Limits;
  /** For Node: an RTCPeerConnection (e.g. from @roamhq/wrtc). */
  RTCPeerConnection?: unknown;
}

export interface CreateInviteOptions extends PairOptions {
  /** How long the invite may be answered and completed (default 10 minutes, 1 s to 24 h). */
  ttlMs?: number;
}

/** A paired connection, synced as a room's peers are. */
export interface Pair {
  /** The other side's public key. */
  readonly pubkey: string;
  readonly state: PeerInfo['state'];
  readonly route: PeerInfo['route'];
  stats(): ReturnType<Room['stats']>;
  on(name: 'peer', fn: (peer: PeerInfo) => void): this;
  on(name: 'sync', fn: (progress: SyncProgress & { peer: string }) => void): this;
  on(name: 'error', fn: (err: Error) => void): this;
  off(name: string, fn: (...args: any[]) => void): this;
  resync(): void;
  close(): void;
}

/** An invite to pair: its text goes to the other side, their answer comes back to complete(). */
export interface Invite {
  /** base64url, for copy/paste or a QR code. */
  readonly text: string;
  /** "#pair=" + text, for a link. */
  readonly hash: string;
  /** The signed event's id, which an answer names. */
  readonly id: string;
  /** ms since the epoch. */
  readonly expiresAt: number;
  /**
   * Opens the connection with the other side's answer (its text, "#pair=" fragment or link).
   * Rejects with a HirobaError whose `reason` is "tampered", "expired", "replayed" or "foreign".
   */
  complete(answer: string): Promise<Pair>;
  /** Gives the invite up (it also goes when it expires). */
  cancel(): void;
}

/** The answer to an invite, to send back to the inviter. */
export interface InviteAnswer {
  readonly text: string;
  readonly hash: string;
  /** The inviter's public key. */
  readonly inviter: string;
  readonly expiresAt: number;
  /** Resolves once the inviter completed and the connection opened. */
  connected(): Promise<Pair>;
  cancel(): void;
}

/** Makes an invite to pair with no server: an offer with its ICE candidates, signed with the feed's key. */
export function createInvite(feed: Feed, options?: CreateInviteOptions): Promise<Invite>;

/**
 * Answers an invite (its text, "#pair=" fragment or link). Rejects with a HirobaError whose
 * `reason` is "tampered", "expired", "replayed" (answered before) or "foreign".
 */
export function acceptInvite(feed: Feed, invite: string, options?: PairOptions): Promise<InviteAnswer>;
