// node-example.ts -- Hiroba from Node: the 'hiroba' entry under Node's
// condition (a database file), 'hiroba/node', and the relay.

import { openFeed } from 'hiroba';
import { openFeed as openFeedNode, type Feed } from 'hiroba/node';
import { startRelay, RELAY_LIMITS } from 'hiroba/relay';
import { joinRelay } from 'hiroba/sync';

export async function main(): Promise<void> {
  const feed: Feed = await openFeed({ path: './alice.db', secretKey: 'nsec1...' });
  const same: Feed = await openFeedNode({ path: './bob.db' });
  const running = await startRelay({ db: './relay.db', port: 0, limits: { maxLimit: RELAY_LIMITS.maxLimit } });
  // Node 22 has a global WebSocket; on Node 20 pass one, e.g. ws's.
  const link = await joinRelay(feed, { url: running.url });
  await feed.post('from node');
  console.log(link.stats().pushed, await running.relay.feed.count({ kinds: [1] }));

  // @ts-expect-error Node needs a path
  await openFeed({ name: 'default' });

  link.leave();
  await running.close();
  await same.close();
  await feed.close();
}
