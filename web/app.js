// app.js -- the Hiroba demo page: one feed in OPFS, one room over WebRTC,
// any number of Nostr relays (the dev server's own /relay by default), and
// pairing with another browser by copy/paste, with no server at all.
// Plain DOM; user content only ever goes in through textContent.

import { openFeed, unsupported } from '/hiroba/js-glue/index.js';
import { joinRoom, joinRelay, createInvite, acceptInvite } from '/hiroba/js-glue/network.js';

const $ = (id) => document.getElementById(id);
const short = (pk) => `${pk.slice(0, 8)}…${pk.slice(-4)}`;
const HEX64 = /^[0-9a-f]{64}$/;

// The room is the URL hash, percent-decoded. A malformed escape ("#50%")
// is taken as typed rather than stopping the page; the signaling server
// takes names of at most 128 characters, so longer ones are cut. A
// "#pair=..." hash is an invite to pair with (below), not a room.
const pairHash = location.hash.startsWith('#pair=') ? location.hash : null;
function roomFromHash(hash) {
  if (pairHash) return 'lobby';
  let name = hash.slice(1);
  try { name = decodeURIComponent(name); } catch { /* keep it as typed */ }
  return name.slice(0, 128) || 'lobby';
}
const roomName = roomFromHash(location.hash);
// ?ice=relay forces every connection through TURN (iceTransportPolicy
// 'relay'): a way to see the relayed path work, or to hide one's address.
const relayOnly = new URLSearchParams(location.search).get('ice') === 'relay';
const CLOSED_SHOWN_MS = 20_000;   // a closed peer stays listed this long
const NOTICE_MS = 8_000;          // connection trouble is shown this long

let feed = null;
let room = null;
let me = null;
let following = new Set();
let muted = new Set();
const names = new Map();      // pubkey -> name, from the profiles in force
const syncs = new Map();      // peer pubkey -> last sync progress
const relays = new Map();     // relay URL -> { url, handle, error, waiting, removed }

// --- small DOM helpers ---------------------------------------------------------
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

// Replaces a list's children, keeping keyboard focus on the "same" control.
function replaceChildren(parent, children) {
  const key = document.activeElement?.dataset?.focusKey;
  parent.replaceChildren(...children);
  if (key) parent.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)?.focus();
}

// Renders a list from items {key, sig, make}: a row whose key and sig
// (everything it shows) are unchanged is kept as it is, and the DOM is not
// touched at all when no row changed. Lists re-render on every frame that
// saw a peer or feed event; replacing an unchanged row would swallow a
// click that lands while it happens.
function renderKeyed(parent, items) {
  const old = new Map([...parent.children].map((n) => [n.dataset.key, n]));
  const nodes = items.map(({ key, sig, make }) => {
    const node = old.get(key);
    if (node && node.dataset.sig === sig) return node;
    const fresh = make();
    fresh.dataset.key = key;
    fresh.dataset.sig = sig;
    return fresh;
  });
  const same = nodes.length === parent.children.length && nodes.every((n, i) => parent.children[i] === n);
  if (!same) replaceChildren(parent, nodes);
}

// Errors from what the user did stay until dismissed; trouble with
// peers (one left mid-sync, an offer went unanswered) is usually healed
// by the next connection, so it is shown for a few seconds only -- but
// never replaces a user's error that is still showing.
let noticeTimer = null;
let showingNotice = false;
function showError(err, { transient = false } = {}) {
  const message = err?.message ?? String(err);
  console.warn('hiroba demo:', err);
  if (transient && !$('banner').hidden && !showingNotice) return;
  clearTimeout(noticeTimer);
  showingNotice = transient;
  $('banner-text').textContent = message;
  $('banner').classList.toggle('notice', transient);
  $('banner').hidden = false;
  if (transient) noticeTimer = setTimeout(() => { $('banner').hidden = true; }, NOTICE_MS);
}
$('banner-close').addEventListener('click', () => { $('banner').hidden = true; clearTimeout(noticeTimer); });

// Runs an action from a button, disabling it meanwhile; errors go to the banner.
async function act(button, fn) {
  if (button) button.disabled = true;
  try {
    await fn();
  } catch (err) {
    showError(err);
  } finally {
    if (button?.isConnected) button.disabled = false;
  }
}

function ago(seconds) {
  const d = Math.max(0, Math.floor(Date.now() / 1000) - seconds);
  if (d < 10) return 'just now';
  if (d < 60) return `${d}s ago`;
  if (d < 3600) return `${Math.floor(d / 60)}m ago`;
  if (d < 86400) return `${Math.floor(d / 3600)}h ago`;
  return `${Math.floor(d / 86400)}d ago`;
}

function displayName(pk) {
  if (pk === me) return names.get(pk) ? `${names.get(pk)} (you)` : 'you';
  return names.get(pk) || short(pk);
}

// --- the model ---------------------------------------------------------------------
// What the page shows is held in memory and kept current by live queries
// (feed.subscribe): an event that arrives costs a few Map updates, and the
// DOM is patched at most once per animation frame however many events a
// sync brings. Stored events are read when a subscription opens, and in
// one batched query per frame for the posts and people that frame newly
// shows (their reactions, replies and profiles).
const LIMIT = 100;           // posts shown

const lists = new Map();     // 3 | 10000 -> our follow or mute list in force
let listsRead = false;       // their stored versions are in: posts can be read
const profiles = new Map();  // pubkey -> the profile event in force
const met = new Set();       // pubkeys whose stored profile was asked for
const around = new Map();    // post id (shown or about to be) -> { reactions, replies }: Map id -> author
// `${id}:${pubkey}` of every deletion seen: a query that was answered just
// before one was stored can bring its target back a moment later.
const deleted = new Set();
let shown = null;            // the posts on screen: { key, posts: Map id -> event, sub }
let next = null;             // the same for new authors, read while `shown` stays
let refill = false;          // a deletion took one of LIMIT posts: read them again

// For tests and the console: events the page's subscriptions delivered,
// reads of stored events (a subscription opening is one), timeline renders.
const stats = { events: 0, queries: 0, renders: 0 };
window.__hirobaDemoStats = stats;

// Newest first, ties by lower id: the engine's order, which is also how it
// picks the version of a replaceable event (a list, a profile) in force.
const order = (a, b) => b.created_at - a.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function watch(filter, onevent, oneose) {
  stats.queries++;
  return feed.subscribe(filter, {
    onevent: (event) => { stats.events++; onevent(event); },
    oneose,
    onclose: (err) => { if (err) showError(err); },
  });
}

// Reads the stored events about keys added since its last read, in one
// query. read() -> a promise for everything asked for so far.
function batchReader(filterOf, onevent) {
  const todo = new Set();
  let done = Promise.resolve();
  return {
    add: (key) => todo.add(key),
    drop: (key) => todo.delete(key),
    read() {
      if (todo.size) {
        const keys = [...todo];
        todo.clear();
        stats.queries++;
        const batch = feed.query(filterOf(keys)).then((events) => {
          for (const event of events) onevent(event);
          schedule();
        }, showError);
        done = Promise.all([done, batch]);
      }
      return done;
    },
  };
}
// Deletions need no reading: the engine applied the stored ones.
const aroundReader = batchReader((ids) => ({ kinds: [1, 7], '#e': ids }), onAround);
const profileReader = batchReader((authors) => ({ kinds: [0], authors }), onProfile);

function wantProfile(pk) {
  if (met.has(pk)) return;
  met.add(pk);
  profileReader.add(pk);
}

// The page's subscriptions: names, reactions, replies and deletions as they
// are stored (limit 0: live only, what is stored is read per post or person
// by the readers above); our own events, which the relays panel counts;
// our follow and mute lists, which say whose posts to show.
function startModel() {
  wantProfile(me);
  watch({ kinds: [0, 1, 5, 7], limit: 0 }, (event) => (event.kind === 0 ? onProfile(event) : onAround(event)));
  watch({ authors: [me], limit: 0 }, () => updateRelays());
  watch({ kinds: [3, 10000], authors: [me] }, onList, () => { listsRead = true; schedule(); });
}

function onList(event) {
  const held = lists.get(event.kind);
  if (held && order(held, event) <= 0) return;
  lists.set(event.kind, event);
  const pks = new Set(event.tags.filter((t) => t[0] === 'p' && typeof t[1] === 'string').map((t) => t[1]));
  if (event.kind === 3) following = pks;
  else muted = pks;
  for (const pk of pks) wantProfile(pk);
  schedule();
}

function onProfile(event) {
  const held = profiles.get(event.pubkey);
  if (held && order(held, event) <= 0) return;
  profiles.set(event.pubkey, event);
  let name = null;
  try { name = JSON.parse(event.content)?.name; } catch { /* not a JSON profile */ }
  if (typeof name === 'string' && name.trim()) names.set(event.pubkey, name.trim());
  else names.delete(event.pubkey);
  schedule();
}

// A reaction counts for its last "e" tag (NIP-25), a reply for each post
// it tags; a deletion removes what its author wrote (NIP-09).
function onAround(event) {
  if (event.kind === 5) { onDeletion(event); return; }
  if (deleted.has(`${event.id}:${event.pubkey}`)) return;
  const tagged = event.tags.filter((t) => t[0] === 'e').map((t) => t[1]);
  for (const id of new Set(event.kind === 7 ? tagged.slice(-1) : tagged)) {
    const counts = around.get(id);
    if (!counts) continue;
    (event.kind === 7 ? counts.reactions : counts.replies).set(event.id, event.pubkey);
    schedule();
  }
}

function onDeletion(deletion) {
  const author = deletion.pubkey;
  for (const [name, id] of deletion.tags) {
    if (name !== 'e' || typeof id !== 'string') continue;
    deleted.add(`${id}:${author}`);
    for (const gen of [shown, next]) {
      if (gen?.posts.get(id)?.pubkey !== author) continue;
      if (gen === shown && gen.posts.size >= LIMIT) refill = true;   // the next older one is not held
      gen.posts.delete(id);
    }
    for (const { reactions, replies } of around.values()) {
      if (reactions.get(id) === author) reactions.delete(id);
      if (replies.get(id) === author) replies.delete(id);
    }
  }
  schedule();
}

// Whose posts to show: ours and those we follow, less the muted.
function authorsWanted() {
  return [...new Set([me, ...following])].filter((pk) => !muted.has(pk)).sort();
}

// Subscribes to the newest posts of `authors`; the old subscription goes
// once these are read, so the timeline never shows an empty moment.
function openPosts(authors) {
  next?.sub.close();
  const gen = { key: authors.join(), posts: new Map(), sub: null };
  next = gen;
  gen.sub = watch({ kinds: [1], authors, limit: LIMIT }, (event) => addPost(gen, event), () => showPosts(gen));
}

function addPost(gen, event) {
  if (deleted.has(`${event.id}:${event.pubkey}`)) return;
  gen.posts.set(event.id, event);
  if (gen !== shown) return;   // read with the rest when `gen` is shown
  track(event);
  // A hidden tab gets no animation frames: keep the model small meanwhile.
  if (gen.posts.size > 2 * LIMIT) trim();
  schedule();
}

// A post about to be shown: its author's name and what decorates it are
// read with the next batch, and followed as they come.
function track(post) {
  wantProfile(post.pubkey);
  if (around.has(post.id)) return;
  around.set(post.id, { reactions: new Map(), replies: new Map() });
  aroundReader.add(post.id);
}

// `gen`'s stored posts are in: read what decorates them, then show them.
async function showPosts(gen) {
  for (const post of gen.posts.values()) track(post);
  await Promise.all([aroundReader.read(), profileReader.read()]);
  if (next !== gen) return;   // other authors were asked for meanwhile
  shown?.sub.close();
  shown = gen;
  next = null;
  for (const post of gen.posts.values()) track(post);   // those that came since
  trim();
  schedule();
}

// Keeps the newest LIMIT posts shown, and what decorates posts still held.
// -> the posts kept, in order.
function trim() {
  const posts = [...shown.posts.values()].sort(order);
  for (const post of posts.slice(LIMIT)) shown.posts.delete(post.id);
  for (const id of around.keys()) {
    if (shown.posts.has(id) || next?.posts.has(id)) continue;
    around.delete(id);
    aroundReader.drop(id);
  }
  return posts.slice(0, LIMIT);
}

// Everything that changed since the last frame, applied in one go.
let frame = 0;
function schedule() {
  if (!frame) frame = requestAnimationFrame(flush);
}

function flush() {
  frame = 0;
  if (listsRead) {
    const authors = authorsWanted();
    if (refill || authors.join() !== (next ?? shown)?.key) {
      refill = false;
      openPosts(authors);
    }
  }
  for (const p of room?.peers ?? []) wantProfile(p.pubkey);
  aroundReader.read();
  profileReader.read();
  renderLists();
  renderPeers();
  if (shown) renderTimeline(trim());
}

// --- lists: following, muted -----------------------------------------------------------
function renderLists() {
  const person = (pk, label, onClick, cls) => el('li', { class: 'person', dataset: { pubkey: pk } },
    el('span', { class: 'who', title: pk, text: displayName(pk) }),
    el('button', { type: 'button', class: `small ${cls}`, dataset: { focusKey: `${cls}:${pk}` },
      'aria-label': `${label} ${displayName(pk)}`, text: label, onclick: onClick }));
  const people = (set, label, onClick, cls, none) => (set.size
    ? [...set].map((pk) => ({ key: pk, sig: displayName(pk), make: () => person(pk, label, (e) => act(e.currentTarget, () => onClick(pk)), cls) }))
    : [{ key: '-', sig: none, make: () => el('li', { class: 'muted-text', text: none }) }]);
  renderKeyed($('following'), people(following, 'Unfollow', unfollow, 'unfollow', 'Nobody yet.'));
  renderKeyed($('muted'), people(muted, 'Unmute', (pk) => feed.unmute(pk), 'unmute', 'Nobody.'));
}

// Fetch what they wrote before, and subscribe to what comes (or stop).
function resyncAll() {
  room?.resync();
  for (const p of pairs) p.resync();
  for (const r of relays.values()) r.handle?.resync();
}
async function follow(pk) {
  await feed.follow(pk);
  resyncAll();
}
async function unfollow(pk) {
  await feed.unfollow(pk);
  resyncAll();
}

// --- timeline --------------------------------------------------------------------
let firstRender = true;

function renderTimeline(posts) {
  stats.renders++;
  // The muted are left out of the next subscription; until it is read, here.
  const items = posts.filter((event) => !muted.has(event.pubkey)).map((event) => {
    const { reactions, replies } = around.get(event.id);
    return { event, reactions: reactions.size, replies: replies.size, mine: [...reactions.values()].includes(me) };
  });
  $('timeline-loading').hidden = true;
  $('empty').hidden = items.length > 0;
  renderKeyed($('timeline'), items.map((item) => {
    const { event, reactions, replies, mine } = item;
    const sig = JSON.stringify([mine, reactions, replies, displayName(event.pubkey), following.has(event.pubkey)]);
    return { key: event.id, sig, make: () => postView(item) };
  }));
  if (firstRender) {
    firstRender = false;
    $('app').setAttribute('aria-busy', 'false');
  }
}

function postView({ event, reactions: count, replies, mine: reactedByMe }) {
  const own = event.pubkey === me;
  const who = displayName(event.pubkey);
  const when = new Date(event.created_at * 1000);
  const actions = [
    el('button', {
      type: 'button', class: 'small react', 'aria-pressed': reactedByMe ? 'true' : 'false',
      'aria-label': `React + to ${who}'s post (${count} reaction${count === 1 ? '' : 's'})`,
      dataset: { focusKey: `react:${event.id}` },
      onclick: (e) => act(e.currentTarget, () => feed.react(event.id, '+')),
    }, el('span', { 'aria-hidden': 'true', text: '+ ' }), el('span', { class: 'reaction-count', text: String(count) })),
    el('span', { class: 'replies', text: `${replies} ${replies === 1 ? 'reply' : 'replies'}` }),
  ];
  if (own) {
    actions.push(el('button', {
      type: 'button', class: 'small danger delete', text: 'Delete', dataset: { focusKey: `delete:${event.id}` },
      'aria-label': 'Delete your post', onclick: (e) => act(e.currentTarget, () => feed.delete(event.id)),
    }));
  } else {
    const followed = following.has(event.pubkey);
    actions.push(
      el('button', {
        type: 'button', class: `small ${followed ? 'unfollow' : 'follow'}`, text: followed ? 'Unfollow' : 'Follow',
        'aria-label': `${followed ? 'Unfollow' : 'Follow'} ${who}`, dataset: { focusKey: `fu:${event.id}` },
        onclick: (e) => act(e.currentTarget, () => (followed ? unfollow : follow)(event.pubkey)),
      }),
      el('button', {
        type: 'button', class: 'small mute', text: 'Mute', 'aria-label': `Mute ${who}`,
        dataset: { focusKey: `mute:${event.id}` },
        onclick: (e) => act(e.currentTarget, () => feed.mute(event.pubkey)),
      }),
    );
  }
  return el('li', { class: `post${own ? ' own' : ''}`, dataset: { id: event.id, pubkey: event.pubkey } },
    el('div', { class: 'post-head' },
      el('span', { class: 'author', title: event.pubkey, text: who }),
      el('time', { class: 'ago', datetime: when.toISOString(), title: when.toLocaleString(), dataset: { ts: event.created_at }, text: ago(event.created_at) })),
    el('p', { class: 'post-content', text: event.content }),
    el('div', { class: 'post-actions' }, ...actions));
}

// --- peers and sync --------------------------------------------------------------
const gone = new Map(); // pubkey -> {info, at}: closed peers, listed a while
let goneTimer = null;

// What the panel says about a connection: connecting, direct, relayed
// via TURN, closing or closed.
function peerLabel(p) {
  if (p.state === 'open') return p.route === 'relayed' ? 'relayed via TURN' : p.route === 'direct' ? 'direct' : 'open';
  return p.state;
}

// Events accepted from a peer on its current (or last) connection.
function peerReceived(pk) {
  const live = room?.stats().peers.find((s) => s.pubkey === pk);
  return live?.received ?? syncs.get(pk)?.received ?? 0;
}

function peerView(p, received) {
  const followed = following.has(p.pubkey);
  return el('li', { class: 'peer', dataset: { pubkey: p.pubkey, state: p.state, route: p.route ?? '' } },
    el('div', { class: 'peer-who' },
      names.get(p.pubkey)
        ? el('span', { class: 'peer-name', text: names.get(p.pubkey) })
        : el('span', { class: 'peer-name unnamed', text: 'No name yet' }),
      el('code', { class: 'pubkey', title: p.pubkey, text: short(p.pubkey) })),
    el('div', { class: 'peer-meta' },
      el('span', { class: `state state-${p.state}`, text: peerLabel(p) }),
      el('span', { class: 'received', dataset: { received: String(received) }, text: `received ${received}` })),
    el('button', {
      type: 'button', class: `small ${followed ? 'unfollow' : 'follow'}`, text: followed ? 'Unfollow' : 'Follow',
      'aria-label': `${followed ? 'Unfollow' : 'Follow'} ${names.get(p.pubkey) || short(p.pubkey)}`,
      dataset: { focusKey: `peer:${p.pubkey}` },
      onclick: (e) => act(e.currentTarget, () => (followed ? unfollow : follow)(p.pubkey)),
    }));
}

function renderPeers() {
  const live = room ? room.peers.filter((p) => p.state !== 'closed') : [];
  const now = Date.now();
  for (const p of room?.peers ?? []) if (p.state === 'closed') gone.set(p.pubkey, { info: p, at: now });
  for (const p of live) gone.delete(p.pubkey);
  for (const [pk, g] of gone) if (now - g.at > CLOSED_SHOWN_MS) gone.delete(pk);
  const peers = [...live, ...[...gone.values()].map((g) => ({ ...g.info, state: 'closed' }))];
  $('no-peers').hidden = peers.length > 0;
  renderKeyed($('peers'), peers.map((p) => {
    const received = peerReceived(p.pubkey);
    return {
      key: p.pubkey,
      sig: JSON.stringify([p.state, p.route, names.get(p.pubkey), following.has(p.pubkey), received]),
      make: () => peerView(p, received),
    };
  }));
  const open = peers.filter((p) => p.state === 'open').length;
  if (room) {
    $('room-status').textContent = `Room “${roomName}” · ${open} peer${open === 1 ? '' : 's'} connected${relayOnly ? ' · relay only' : ''}`;
  }
  // Closed peers drop off the list after a while even if nothing happens
  // (one timer at a time: this runs on every peer event).
  if (gone.size && !goneTimer) {
    goneTimer = setTimeout(() => { goneTimer = null; renderPeers(); }, CLOSED_SHOWN_MS + 100);
  }
}

function renderSync() {
  const all = [...syncs.values()];
  const pending = all.filter((s) => !s.done);
  const need = all.reduce((a, s) => a + s.need, 0);
  const received = all.reduce((a, s) => a + Math.min(s.received, s.need), 0);
  $('sync').hidden = all.length === 0;
  const bar = $('sync-bar');
  if (pending.length) {
    $('sync-label').textContent = need ? `Syncing… ${received} of ${need} events` : 'Comparing with peers…';
    if (need) { bar.max = need; bar.value = received; } else bar.removeAttribute('value');
  } else {
    $('sync-label').textContent = `In sync${need ? ` · ${received} event${received === 1 ? '' : 's'} received` : ''}`;
    bar.max = 1; bar.value = 1;
  }
}

// --- pairing without a server ------------------------------------------------------
// One side creates an invite (its text, a #pair= link and a QR code of
// the link); the other opens the link or pastes the text and gets an
// answer to send back (text and QR code); pasting that answer on the
// first side opens the connection. The QR code is drawn by
// qrcode-generator, which the dev server serves at /vendor/; without it
// the texts still work.
let invite = null;          // our invite waiting for its answer
const pairs = new Set();    // paired connections
const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
const pairStatus = (text) => { $('pair-status').textContent = text; };

async function drawQr(data) {
  const canvas = $('pair-qr');
  try {
    const { default: qrcode } = await import('/vendor/qrcode-generator.mjs');
    const qr = qrcode(0, 'L');
    qr.addData(data);
    qr.make();
    const n = qr.getModuleCount();
    const cell = 3;
    const margin = 4 * cell; // the quiet zone readers need
    const size = n * cell + 2 * margin;
    canvas.width = size;
    canvas.height = size;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, size, size);
    ctx.fillStyle = '#000';
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) if (qr.isDark(r, c)) ctx.fillRect(margin + c * cell, margin + r * cell, cell, cell);
    }
    canvas.dataset.text = data;
    canvas.hidden = false;
  } catch (err) {
    canvas.hidden = true;
    console.warn('hiroba demo: no QR code:', err);
  }
}

async function showPairText(label, text, link) {
  $('pair-text-label').textContent = label;
  $('pair-text').value = text;
  $('pair-link').hidden = !link;
  if (link) $('pair-link').href = link;
  $('pair-out').hidden = false;
  await drawQr(link ?? text);
}

function pairReset() {
  invite?.cancel();
  invite = null;
  $('pair-out').hidden = true;
  $('pair-cancel').hidden = true;
  $('pair-input-label').textContent = 'Paste an invite';
}

async function createPairInvite() {
  pairReset();
  pairStatus('Gathering this browser’s network addresses (a few seconds)…');
  try {
    invite = await createInvite(feed);
  } catch (err) {
    pairStatus(`Could not make an invite: ${err.message}`);
    throw err;
  }
  const link = `${location.origin}${location.pathname}${invite.hash}`;
  await showPairText('Your invite', invite.text, link);
  $('pair-cancel').hidden = false;
  $('pair-input-label').textContent = 'Paste their answer';
  pairStatus(`Invite ready (${invite.text.length} characters). Send it to the other browser before ${clock(invite.expiresAt)}: copy the text, send the link, or scan the QR code. Then paste the answer it shows below.`);
}

// The pasted text is the answer to our invite if we have one waiting,
// else an invite (its text or link).
async function usePairText(text) {
  try {
    if (invite) {
      pairStatus('Checking the answer and connecting…');
      const pair = await invite.complete(text);
      invite = null;
      await paired(pair);
    } else {
      pairStatus('Checking the invite, then gathering this browser’s network addresses…');
      const answer = await acceptInvite(feed, text);
      await showPairText('Your answer: send it back', answer.text, null);
      pairStatus(`Invite from ${displayName(answer.inviter)} accepted. Send this answer back before ${clock(answer.expiresAt)} (copy it, or scan the QR code); the connection opens once it is pasted there.`);
      await paired(await answer.connected());
    }
  } catch (err) {
    pairStatus(`That did not work: ${err.message}`);
    throw err;
  }
}

async function paired(pair) {
  pairs.add(pair);
  window.hirobaPairs = pairs;   // for the console and tests
  pairReset();
  const who = displayName(pair.pubkey);
  pairStatus(`Paired with ${who}: following them and syncing…`);
  pair.on('sync', (p) => { if (p.done) pairStatus(`Paired with ${who}: in sync; new posts arrive as they are written.`); });
  pair.on('peer', ({ state }) => {
    if (state !== 'closed') return;
    pairs.delete(pair);
    pairStatus(`The paired connection to ${who} closed. Pair again to reconnect.`);
  });
  pair.on('error', (err) => showError(err, { transient: true }));
  if (!following.has(pair.pubkey)) await follow(pair.pubkey);
  else pair.resync();
}

function wirePairing() {
  $('pair-create').addEventListener('click', (e) => act(e.currentTarget, createPairInvite));
  $('pair-cancel').addEventListener('click', () => { pairReset(); pairStatus('Invite cancelled.'); });
  $('pair-copy').addEventListener('click', async (e) => {
    const button = e.currentTarget;
    try {
      await navigator.clipboard.writeText($('pair-text').value);
      button.textContent = 'Copied';
    } catch {
      $('pair-text').select();
      button.textContent = 'Selected: copy it';
    }
    setTimeout(() => { button.textContent = 'Copy'; }, 1500);
  });
  $('pair-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('pair-input').value.trim();
    if (!text) return;
    act(e.submitter, async () => { await usePairText(text); $('pair-input').value = ''; });
  });
  if (typeof globalThis.RTCPeerConnection !== 'function') {
    $('pair-create').disabled = true;
    $('pair-use').disabled = true;
    pairStatus('This browser lacks WebRTC, so it cannot pair.');
    return;
  }
  // Opened from an invite's link: answer it. The hash goes, so that a
  // reload does not answer it again (it would be refused as answered).
  if (pairHash) {
    history.replaceState(null, '', location.pathname + location.search);
    act(null, () => usePairText(pairHash));
  }
}

// --- relays --------------------------------------------------------------------------
// The list lives in localStorage (one per origin): the dev server's own
// relay on a first visit; what the user adds or removes after that.
const RELAYS_KEY = 'hiroba-relays';
const MAX_RELAYS = 16;
const OWN_RELAY = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/relay`;
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

// Why `text` cannot be added as a relay, or null. -> { problem, url }
function checkRelayUrl(text) {
  const typed = text.trim();
  if (!typed) return { problem: 'Type a relay URL, such as wss://relay.damus.io.' };
  let u;
  try { u = new URL(typed); } catch { return { problem: `“${typed.slice(0, 80)}” is not a URL. A relay URL looks like wss://relay.damus.io.` }; }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    return { problem: 'A relay URL starts with wss:// (or ws:// for a relay on this computer).' };
  }
  if (!u.hostname) return { problem: 'That URL names no host.' };
  if (u.username || u.password) return { problem: 'Leave the user name and password out of the relay URL.' };
  // An https page may not open ws:// connections except to this computer.
  if (location.protocol === 'https:' && u.protocol === 'ws:' && !LOOPBACK.test(u.hostname)) {
    return { problem: 'This page is served over https, so the browser lets it reach wss:// relays only.' };
  }
  u.hash = '';
  return { problem: null, url: u.href };
}

function savedRelays() {
  try {
    const list = JSON.parse(localStorage.getItem(RELAYS_KEY));
    if (Array.isArray(list)) {
      return [...new Set(list.filter((u) => typeof u === 'string').map((u) => checkRelayUrl(u).url).filter(Boolean))].slice(0, MAX_RELAYS);
    }
  } catch { /* unreadable: start over */ }
  return [checkRelayUrl(OWN_RELAY).url];
}

function saveRelays() {
  try {
    localStorage.setItem(RELAYS_KEY, JSON.stringify([...relays.keys()]));
  } catch (err) {
    showError(new Error(`Could not save the relay list: ${err.message ?? err}`), { transient: true });
  }
}

const relayMessage = (err) => String(err?.message ?? err).replace(/^hiroba: /, '');

async function addRelay(url) {
  const entry = { url, handle: null, error: null, waiting: null, removed: false };
  relays.set(url, entry);
  updateRelays();
  try {
    const handle = await joinRelay(feed, { url });
    if (entry.removed) { handle.leave(); return; }
    entry.handle = handle;
    handle.on('state', ({ state }) => {
      if (state === 'open') entry.error = null;   // a fresh connection: old trouble is over
      updateRelays();
    });
    handle.on('sync', updateRelays);
    handle.on('error', (err) => {
      console.warn('hiroba demo: relay', url, err);
      entry.error = relayMessage(err);
      updateRelays();
    });
  } catch (err) {
    entry.error = relayMessage(err);
  }
  updateRelays();
}

function removeRelay(url) {
  const entry = relays.get(url);
  if (!entry) return;
  entry.removed = true;
  entry.handle?.leave();
  relays.delete(url);
  saveRelays();
  updateRelays();
}

// "relay.damus.io", "ws://127.0.0.1:8080/relay": what a row shows of its
// URL, as [host, path] (a line may break between them).
function relayName(url) {
  const u = new URL(url);
  return [`${u.protocol === 'ws:' ? 'ws://' : ''}${u.host}`, `${u.pathname === '/' ? '' : u.pathname}${u.search}`];
}

function relayView(entry, s) {
  const state = s?.state ?? 'connecting';
  const [host, path] = relayName(entry.url);
  const sync = [el('span', { class: `state state-${state}`, text: state })];
  if (state === 'open') {
    sync.push(el('span', { class: 'relay-sync', text: s.done ? 'in sync' : s.missing ? `${s.missing} missing` : 'syncing…' }),
      el('span', { class: 'relay-mode', text: s.mode === 'req' ? 'REQ' : 'NIP-77' }));
  }
  const received = s?.received ?? 0;
  const counts = [el('span', { class: 'received', dataset: { received: String(received) }, text: `received ${received}` })];
  const waiting = s?.outbox ?? entry.waiting;
  if (waiting) {
    counts.push(el('span', { class: 'waiting', dataset: { waiting: String(waiting) },
      text: `${waiting} event${waiting === 1 ? '' : 's'} to send`,
      title: 'Your events this relay has not acknowledged yet: they go out when it is reachable' }));
  }
  return el('li', { class: 'relay', dataset: { url: entry.url, state, done: String(!!s?.done), outbox: String(waiting ?? '') } },
    el('code', { class: 'relay-url', title: entry.url }, host, path ? el('wbr') : null, path || null),
    el('div', { class: 'relay-meta' }, ...sync),
    el('div', { class: 'relay-meta' }, ...counts),
    el('button', {
      type: 'button', class: 'small danger remove-relay', text: 'Remove', 'aria-label': `Remove relay ${host}${path}`,
      dataset: { focusKey: `relay:${entry.url}` }, onclick: () => removeRelay(entry.url),
    }),
    entry.error ? el('p', { class: 'relay-error', text: entry.error }) : null);
}

function renderRelays() {
  $('no-relays').hidden = relays.size > 0;
  renderKeyed($('relays'), [...relays.values()].map((entry) => {
    const s = entry.handle?.stats();
    const shown = s && [s.state, s.done, s.missing, s.mode, s.received, s.outbox];
    return { key: entry.url, sig: JSON.stringify([shown, entry.waiting, entry.error]), make: () => relayView(entry, s) };
  }));
}

// While a relay is not connected its handle cannot say what it still owes
// (stats().outbox is null): estimate it from the outbox's record (the
// oldest created_at not acknowledged) -- our events after it.
async function estimateWaiting(entry) {
  if (!entry.handle || entry.handle.stats().outbox !== null) { entry.waiting = null; return; }
  const record = await feed.getState(`relay:${entry.url}`);
  const filter = { authors: [me] };
  if (record?.pushedAll && Number.isSafeInteger(record.pending)) filter.since = record.pending + 1;
  entry.waiting = await feed.count(filter);
}

const updateRelays = debounce(async () => {
  await Promise.all([...relays.values()].map((entry) => estimateWaiting(entry).catch(() => { entry.waiting = null; })));
  renderRelays();
}, 150);

function connectRelays() {
  for (const url of savedRelays()) addRelay(url);
  saveRelays();
  renderRelays();
  // Counts change without an event (an OK from the relay, a post while
  // offline): look again now and then; unchanged rows are not touched.
  setInterval(updateRelays, 2000);
  $('relay-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('relay-input');
    let { problem, url } = checkRelayUrl(input.value);
    if (!problem && relays.has(url)) problem = 'That relay is in the list already.';
    if (!problem && relays.size >= MAX_RELAYS) problem = `At most ${MAX_RELAYS} relays: remove one first.`;
    $('relay-error').textContent = problem ?? '';
    $('relay-error').hidden = !problem;
    input.setAttribute('aria-invalid', problem ? 'true' : 'false');
    if (problem) { input.focus(); return; }
    input.value = '';
    addRelay(url);
    saveRelays();
  });
  $('relay-input').addEventListener('input', () => {
    $('relay-error').hidden = true;
    $('relay-input').setAttribute('aria-invalid', 'false');
  });
}

// --- wiring ------------------------------------------------------------------------
function debounce(fn, ms) {
  let timer = null;
  let running = false;
  let again = false;
  const run = async () => {
    timer = null;
    if (running) { again = true; return; }
    running = true;
    try { await fn(); } catch (err) { showError(err); }
    running = false;
    if (again) { again = false; schedule(); }
  };
  const schedule = () => { if (!timer) timer = setTimeout(run, ms); };
  return schedule;
}

async function post() {
  const box = $('compose-text');
  const text = box.value.trim();
  if (!text) { box.focus(); return; }
  await act($('post-button'), async () => {
    await feed.post(text);
    box.value = '';
  });
  box.focus();
}

function wire() {
  $('compose').addEventListener('submit', (e) => { e.preventDefault(); post(); });
  $('compose-text').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); post(); }
  });
  $('name-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('name-input').value.trim();
    act(e.submitter, () => feed.setProfile({ name }));
  });
  $('follow-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('follow-input');
    const pk = input.value.trim().toLowerCase();
    if (!HEX64.test(pk)) { showError(new Error('A public key is 64 hexadecimal characters.')); input.focus(); return; }
    if (pk === me) { showError(new Error('That is your own key.')); return; }
    act(e.submitter, async () => { await follow(pk); input.value = ''; });
  });
  $('copy-pubkey').addEventListener('click', async (e) => {
    const button = e.currentTarget;
    try {
      await navigator.clipboard.writeText(me);
      button.textContent = 'Copied';
    } catch {
      // No clipboard permission: select the key so the user can copy it.
      getSelection().selectAllChildren($('my-pubkey'));
      button.textContent = 'Selected';
    }
    setTimeout(() => { button.textContent = 'Copy'; }, 1500);
  });
  window.addEventListener('hashchange', () => location.reload());
  // Leaving says goodbye: peers see the connection close at once instead
  // of waiting for it to time out.
  window.addEventListener('pagehide', () => {
    room?.leave();
    invite?.cancel();
    for (const p of pairs) p.close();
    for (const r of relays.values()) r.handle?.leave();
  });
  // Keep "3m ago" honest.
  setInterval(() => {
    for (const t of document.querySelectorAll('time.ago')) t.textContent = ago(Number(t.dataset.ts));
  }, 30_000);
}

async function connect() {
  if (typeof globalThis.RTCPeerConnection !== 'function') {
    // The feed works alone; say plainly why nobody will be met.
    $('room-status').textContent = relays.size ? 'Relays only: no WebRTC in this browser' : 'Offline: no WebRTC in this browser';
    $('no-peers').textContent = 'This browser lacks WebRTC (RTCPeerConnection), so it cannot meet peers. Your posts are kept in this browser and reach others only through the relays below.';
    return;
  }
  $('room-status').textContent = `Joining room “${roomName}”…`;
  const signalUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/signal`;
  try {
    room = await joinRoom(feed, {
      signalUrl, room: roomName, turnUrl: '/turn', poolSize: 8,
      iceTransportPolicy: relayOnly ? 'relay' : 'all',
    });
  } catch (err) {
    $('room-status').textContent = `Offline: could not join room “${roomName}”`;
    showError(new Error(`Could not join the room: ${err.message ?? err}`));
    return;
  }
  // At once, not next frame: a closed peer leaves room.peers soon after
  // this event, and the panel keeps it listed a while. A newcomer's name
  // is read next frame.
  room.on('peer', () => { renderPeers(); schedule(); });
  room.on('sync', (s) => { syncs.set(s.peer, s); renderSync(); renderPeers(); });
  room.on('error', (err) => showError(err, { transient: true }));
  window.hirobaRoom = room;   // for the console and tests
  renderPeers();
}

async function main() {
  $('room-name').textContent = roomName;
  const tellUnsupported = (lacking) => {
    $('loading').hidden = true;
    const box = $('unsupported');
    box.textContent = `Hiroba cannot run in this browser: it lacks ${lacking}. Try a recent Chrome, Edge, Firefox or Safari, over https:// or on localhost.`;
    box.hidden = false;
    $('room-status').textContent = 'Unsupported browser';
    $('app').setAttribute('aria-busy', 'false');
  };
  const lacking = unsupported();
  if (lacking) return tellUnsupported(lacking);
  try {
    feed = await openFeed({ name: 'default' });
    me = (await feed.identity()).pubkey;
  } catch (err) {
    // What only the feed's worker can see (OPFS sync access handles).
    if (err.lacking) return tellUnsupported(err.lacking);
    $('loading').hidden = true;
    $('room-status').textContent = 'Could not open the feed';
    showError(new Error(`Could not open your feed: ${err.message ?? err}`));
    $('app').setAttribute('aria-busy', 'false');
    return;
  }
  window.hirobaFeed = feed;   // for the console and tests
  $('my-pubkey').textContent = short(me);
  $('my-pubkey').title = me;
  $('my-pubkey').dataset.pubkey = me;
  const profile = await feed.profile().catch(() => null);
  if (typeof profile?.name === 'string') $('name-input').value = profile.name;
  $('loading').hidden = true;
  $('sidebar').hidden = false;
  $('content').hidden = false;
  wire();
  wirePairing();
  startModel();
  connectRelays();
  window.hirobaRelays = relays;   // for the console and tests
  connect();
}

main();
