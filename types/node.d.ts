// node.d.ts -- 'hiroba' under Node (and 'hiroba/node'): the same feed,
// the engine in-process, the database in a file.

import type { Feed, OpenFeedCommon } from './feed.js';

export * from './feed.js';

export interface OpenFeedOptions extends OpenFeedCommon {
  /** The SQLite database file (created with a new identity if missing). */
  path: string;
}

/** Opens (or creates) a feed on a database file. */
export function openFeed(options: OpenFeedOptions): Promise<Feed>;

/** Always null under Node (the same name as the browser entry's). */
export function unsupported(): null;
