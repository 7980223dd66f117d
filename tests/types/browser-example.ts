// browser-example.ts -- a web client using Hiroba as its users would,
// compiled by `tsc --noEmit` in make test against the package's own
// exports ('hiroba' resolves to this repository through package.json).
// The @ts-expect-error lines check that the types refuse misuse.

import { openFeed, unsupported, HirobaError, type NostrEvent, type Signer } from 'hiroba';
import { joinRoom, joinRelay, createInvite, acceptInvite } from 'hiroba/sync';

declare global {
  interface Window { nostr?: Signer }
}

export async function start(list: HTMLElement): Promise<void> {
  const lacking: string | null = unsupported();
  if (lacking) throw new Error(`this browser lacks ${lacking}`);

  // A NIP-07 extension when there is one, a key of the database's own otherwise.
  const feed = window.nostr
    ? await openFeed({ name: 'main', signer: window.nostr })
    : await openFeed({ name: 'main', policy: { store: 'follows', maxBytes: 64 * 1024 * 1024 } });
  const { pubkey } = await feed.identity();

  const show = (event: NostrEvent) => {
    const item = document.createElement('li');
    item.textContent = `${event.pubkey.slice(0, 8)}: ${event.content}`;
    list.prepend(item);
  };
  const sub = feed.subscribe({ kinds: [1], authors: [pubkey, ...(await feed.following())], limit: 50 }, {
    onevent: show,
    oneose: () => console.log('stored posts shown'),
    onclose: (err) => { if (err) console.error(err.message); },
  });

  try {
    const note = await feed.post('hello', { tags: [['t', 'hiroba']] });
    await feed.react(note.id);
    const replies: number = await feed.count({ kinds: [1], '#e': [note.id] });
    console.log(replies);
  } catch (err) {
    if (err instanceof HirobaError && err.code === -4) console.warn('storage is full');
    else throw err;
  }

  const backup: string = await feed.exportKey({ passphrase: 'correct horse' });
  console.log(backup.startsWith('ncryptsec1'));

  const room = await joinRoom(feed, { signalUrl: 'wss://example.org/signal', room: 'friends' });
  room.on('peer', (peer) => console.log(peer.pubkey, peer.state, peer.route));
  room.on('sync', (progress) => console.log(progress.peer, progress.received, progress.done));
  const relay = await joinRelay(feed, { url: 'wss://relay.example.org' });
  relay.on('state', ({ state }) => console.log(state));
  const outbox: number | null = relay.stats().outbox;
  console.log(outbox);

  // Pairing with no server: the texts go by copy/paste, a link or a QR code.
  const invite = await createInvite(feed, { iceServers: [{ urls: 'stun:stun.example.org' }], ttlMs: 600_000 });
  const answer = await acceptInvite(feed, invite.hash);
  const pair = await invite.complete(answer.text);
  pair.on('sync', (progress) => console.log(pair.pubkey, progress.done));
  const other = await answer.connected();
  other.close();
  const expires: number = invite.expiresAt;
  console.log(expires);
  // @ts-expect-error an invite's lifetime is in milliseconds, a number
  await createInvite(feed, { ttlMs: '10m' });

  // @ts-expect-error browsers name a database; a file path is Node's option
  await openFeed({ path: '/tmp/x.db' });
  // @ts-expect-error a filter's kinds are numbers
  await feed.query({ kinds: ['1'] });
  // @ts-expect-error exportKey needs a passphrase or an explicit { nsec: true }
  await feed.exportKey({});

  sub.close();
  relay.leave();
  room.leave();
  await feed.close();
}
