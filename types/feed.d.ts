// feed.d.ts -- the types every entry shares: Nostr events and filters,
// the Feed (the same in browsers and Node), errors and signers.

/** A signed Nostr event (NIP-01). */
export interface NostrEvent {
  id: string;
  pubkey: string;
  created_at: number;
  kind: number;
  tags: string[][];
  content: string;
  sig: string;
}

/** What a signer is asked to sign: an event without id and sig. */
export interface UnsignedEvent {
  pubkey: string;
  created_at: number;
  kind: number;
  tags: string[][];
  content: string;
}

/** An event to sign and store: the feed adds pubkey, created_at, id, sig. */
export interface Draft {
  kind: number;
  content: string;
  tags?: string[][];
}

/** A NIP-01 filter; `#e`, `#p`, `#t`... select by single-letter tags. */
export interface Filter {
  ids?: string[];
  authors?: string[];
  kinds?: number[];
  since?: number;
  until?: number;
  limit?: number;
  [tag: `#${string}`]: string[] | undefined;
}

/**
 * A NIP-07 signer (e.g. `window.nostr`): the secret key stays in it.
 * Every event it returns is verified like any other before it is used.
 */
export interface Signer {
  getPublicKey(): string | Promise<string>;
  signEvent(event: UnsignedEvent): NostrEvent | Promise<NostrEvent>;
}

/** A secret key: 64 hex characters, NIP-19 `nsec`, NIP-49 `ncryptsec` (with `passphrase`), or 32 bytes. */
export type SecretKey = string | Uint8Array;

/** What a feed keeps from peers and relays (README "Storage policy"). */
export interface Policy {
  /** "follows" (default): own events, followed authors, events that reference the user. "all": every valid event. */
  store?: 'follows' | 'all';
  /** The database's size budget in bytes (default 512 MiB; 0: none). */
  maxBytes?: number;
}

/** Options openFeed takes in every environment. */
export interface OpenFeedCommon {
  /** What to keep from peers and relays. */
  policy?: Policy;
  /** Open a database that exists but is empty, starting a new identity there. */
  allowEmpty?: boolean;
  /** A key the user already has: adopted by a new database, checked against an existing one. */
  secretKey?: SecretKey;
  /** The passphrase of a NIP-49 `ncryptsec` secretKey. */
  passphrase?: string;
  /** A NIP-07 signer: the database keeps only its public key. Not with secretKey. */
  signer?: Signer;
}

/** An engine error: `code` is a negative HIROBA_E* number (docs/DESIGN.md §4). */
export class HirobaError extends Error {
  constructor(code: number, message: string, operation?: string);
  readonly code: number;
  /** The feed call that failed, e.g. "post", "open". */
  readonly operation: string | undefined;
  /** openFeed in a browser that lacks something: what, as unsupported() says it. */
  readonly lacking?: string;
}

/** The result of applying one frame (docs/DESIGN.md §4). */
export interface MergeResult {
  /** Ids of events newly stored. */
  accepted: string[];
  /** Events already held. */
  duplicates: number;
  /** Events refused, each with a NIP-01 prefixed reason. */
  rejected: { id: string; reason: string }[];
  /** Frames to send back to the peer that sent this one. */
  replies: unknown[];
  /** NIP-77: ids we hold that the peer lacks. */
  have: string[];
  /** NIP-77: ids the peer holds that we lack. */
  need: string[];
}

/** Kind-0 profile fields (other fields an author set are kept too). */
export interface Profile {
  name?: string;
  about?: string;
  picture?: string;
  [field: string]: unknown;
}

/** A post of the timeline with what decorates it. */
export interface TimelineItem {
  event: NostrEvent;
  profile: Profile | null;
  /** Reaction content ("+" for a like) -> how many. */
  reactions: Record<string, number>;
  replies: number;
}

/** A live query opened by Feed.subscribe. */
export interface Subscription {
  /** Stops delivery; onclose() is called once. */
  close(): void;
}

export interface SubscribeHandlers {
  /** Each matching event, stored ones first, then new ones as they are stored; each once. */
  onevent?: (event: NostrEvent) => void;
  /** After the stored matches. */
  oneose?: () => void;
  /** When the subscription ends: by close() (no argument) or an error (a bad filter). */
  onclose?: (err?: Error) => void;
}

/** How exportKey gives the secret key. */
export type ExportKeyOptions =
  | { passphrase: string; logN?: number; nsec?: false }
  | { nsec: true; passphrase?: undefined };

/**
 * A user's feed on one database: their identity, their own events, and
 * what peers and relays brought. Browsers and Node behave the same.
 */
export class Feed {
  private constructor();
  /** The user's public key (hex). */
  identity(): Promise<{ pubkey: string }>;
  /** Signs and stores a draft; resolves to the signed event. */
  publish(draft: Draft): Promise<NostrEvent>;
  /** Signs a draft with the user's key (or signer) without storing it. */
  sign(draft: Draft): Promise<NostrEvent>;
  /** Checks an event's id and signature (nothing stored); rejects with a HirobaError saying why when not valid. */
  verify(event: NostrEvent): Promise<void>;
  /** A kind-1 note. */
  post(text: string, options?: { tags?: string[][] }): Promise<NostrEvent>;
  /** Applies one frame from a peer or relay (an array, JSON text or its bytes; an array of frames is a batch). */
  merge(frame: unknown[] | string | Uint8Array): Promise<MergeResult>;
  /** Frames from one connection `conn` (>= 1), verified on the feed's verifier workers and stored in groups, a transaction each; may apply fewer than given when past `budget` bytes (nothing stored when it rejects). */
  mergeBatch(conn: number, frames: (string | Uint8Array)[], budget?: number): Promise<MergeResult[]>;
  /** Forgets a connection's NIP-77 sessions. */
  connClose(conn: number): Promise<void>;
  /** Stored events matching a filter or any of several, newest first. */
  query(filter: Filter | Filter[]): Promise<NostrEvent[]>;
  /** How many stored events match (NIP-45; limit ignored). */
  count(filter: Filter | Filter[]): Promise<number>;
  /** Stored matches, then oneose, then new matches from any source as they are stored. */
  subscribe(filters: Filter | Filter[], handlers?: SubscribeHandlers): Subscription;
  /** A value kept in the database's small key-value store, or null. */
  getState(key: string): Promise<unknown>;
  /** Keeps a JSON value under a key (null deletes it). */
  setState(key: string, value: unknown): Promise<void>;
  /** Starts a NIP-77 reconciliation: the NEG-OPEN frame to send the peer. */
  negOpen(sub: string, filter: Filter, conn?: number): Promise<unknown[]>;
  /** SQLite's integrity_check of the database. */
  checkIntegrity(): Promise<{ ok: boolean; result: string }>;
  /** The secret key as NIP-49 `ncryptsec` (or as `nsec` when asked with { nsec: true }). */
  exportKey(options: ExportKeyOptions): Promise<string>;
  /** A profile (kind 0): the user's own, or an author's. */
  profile(pubkey?: string): Promise<Profile | null>;
  /** Merges fields into the user's profile and publishes it. */
  setProfile(fields: Partial<Pick<Profile, 'name' | 'about' | 'picture'>>): Promise<NostrEvent>;
  /** Pubkeys the user follows (kind 3). */
  following(): Promise<string[]>;
  /** Pubkeys the user muted (kind 10000). */
  muted(): Promise<string[]>;
  follow(pubkey: string): Promise<NostrEvent>;
  unfollow(pubkey: string): Promise<NostrEvent>;
  mute(pubkey: string): Promise<NostrEvent>;
  unmute(pubkey: string): Promise<NostrEvent>;
  /** A NIP-25 reaction ("+" by default). */
  react(eventId: string, content?: string): Promise<NostrEvent>;
  /** A NIP-09 deletion of one of the user's events. */
  delete(eventId: string): Promise<NostrEvent>;
  /** Posts of followed authors and self, newest first, with profiles, reaction and reply counts. */
  timeline(options?: { limit?: number; until?: number }): Promise<TimelineItem[]>;
  /** Every event stored, from any source (own posts, peers, relays, other tabs). */
  on(name: 'event', fn: (event: NostrEvent) => void): this;
  off(name: 'event', fn: (event: NostrEvent) => void): this;
  /** Closes the database (and, in browsers, the worker). */
  close(): Promise<void>;
}
