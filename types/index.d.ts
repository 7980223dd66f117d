// index.d.ts -- 'hiroba' in browsers: the feed on SQLite in the Origin
// Private File System, run by a dedicated Worker. Storage only: rooms and
// relays are in 'hiroba/sync'.

import type { Feed, OpenFeedCommon } from './feed.js';

export * from './feed.js';

export interface OpenFeedOptions extends OpenFeedCommon {
  /** The database's name in this origin (default "default"); tabs that open the same name share it. */
  name?: string;
}

/**
 * Opens (or creates) a feed. Rejects with a HirobaError: -6 (HIROBA_EBUSY)
 * while the database is held elsewhere, -1 when the browser lacks
 * something (see unsupported(); OPFS sync access handles, which only a
 * worker can see, are checked by openFeed's worker: `lacking` names what).
 */
export function openFeed(options?: OpenFeedOptions): Promise<Feed>;

/** What this browser lacks for Hiroba (e.g. "the Origin Private File System (OPFS)"), or null. */
export function unsupported(): string | null;
