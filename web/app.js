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
  let name = splitRoute(hash.slice(1)).room;
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
const LIMIT = 100;           // posts shown at first, and per "load older"
let limit = LIMIT;           // posts shown: LIMIT more for each "load older"

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
      if (gen === shown && gen.posts.size >= limit) refill = true;   // the next older one is not held
      gen.posts.delete(id);
    }
    socialDeleted(id, author);
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
  if (authors.join() !== shown?.key) {   // other authors: their first page
    limit = LIMIT;
    olderDone = false;
  }
  const gen = { key: authors.join(), authors, posts: new Map(), sub: null };
  next = gen;
  gen.sub = watch({ kinds: [1], authors, limit }, (event) => addPost(gen, event), () => showPosts(gen));
}

function addPost(gen, event) {
  if (deleted.has(`${event.id}:${event.pubkey}`)) return;
  gen.posts.set(event.id, event);
  if (gen !== shown) return;   // read with the rest when `gen` is shown
  track(event);
  // A hidden tab gets no animation frames: keep the model small meanwhile.
  if (gen.posts.size > 2 * limit) trim();
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

// Keeps the newest `limit` posts shown, and what decorates posts still
// held (here or in the open view). -> the posts kept, in order.
function trim() {
  const posts = [...shown.posts.values()].sort(order);
  for (const post of posts.slice(limit)) shown.posts.delete(post.id);
  for (const id of around.keys()) {
    if (shown.posts.has(id) || next?.posts.has(id) || viewHolds(id)) continue;
    around.delete(id);
    aroundReader.drop(id);
  }
  return posts.slice(0, limit);
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
  renderSocial();
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
  $('timeline-older').hidden = olderDone || posts.length < limit;
  renderKeyed($('timeline'), items.map((item) => {
    const { event, reactions, replies, mine } = item;
    const sig = JSON.stringify([mine, reactions, replies, displayName(event.pubkey), following.has(event.pubkey), postSig(event)]);
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
    el('a', { class: 'replies', href: routeHref('thread', event.id), text: `${replies} ${replies === 1 ? 'reply' : 'replies'}` }),
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
  actions.splice(1, 0, replyButton(event));
  return el('li', { class: `post${own ? ' own' : ''}`, dataset: { id: event.id, pubkey: event.pubkey } },
    el('div', { class: 'post-head' },
      avatar(event.pubkey),
      el('a', { class: 'author', href: routeHref('profile', event.pubkey), title: event.pubkey, text: who }),
      el('a', { class: 'permalink', href: routeHref('thread', event.id), 'aria-label': `Thread of ${who}'s post` },
        el('time', { class: 'ago', datetime: when.toISOString(), title: when.toLocaleString(), dataset: { ts: event.created_at }, text: ago(event.created_at) }))),
    inReplyTo(event),
    el('p', { class: 'post-content', onclick: (e) => openFromContent(e, event.id) }, ...contentNodes(event.content)),
    el('div', { class: 'post-actions' }, ...actions),
    replyBox(event));
}

// --- social: replies, threads, profiles, mentions, notifications -------------------
// The views besides the timeline are routes in the URL fragment, after the
// room: #<room>/thread/<id>, #<room>/profile/<pubkey>, #<room>/notifications
// (no room: the lobby's), so reload and back/forward work. Each view holds
// its own live queries, opened when it is shown and closed when it is left;
// its posts are decorated by the model above (track) and drawn with
// postView, on the same once-per-frame flush.
const PAGE = LIMIT;          // posts per "load older" in the views
const SEEN_KEY = 'demo:notifications-seen';   // feed state: newest created_at seen

let nip19 = null;            // js-glue/nip19.js, loaded by startSocial
let roomRaw = '';            // the room part of the fragment, as typed
let view = { name: 'home' };
let olderDone = false;       // the timeline's "load older" found the end
const replyOpen = new Set(); // ids of posts whose reply box is open
const drafts = new Map();    // post id -> reply text typed (rows are remade)
let focusReply = null;       // a reply box just opened: focus it once drawn
const notes = { paged: null, seen: 0, targets: new Map() };
const targetReader = batchReader((ids) => ({ ids }), (event) => notes.targets.set(event.id, event));

// Splits a fragment (without '#') into the room and the view route.
function splitRoute(fragment) {
  let m = fragment.match(/^(?:(.*)\/)?(thread|profile)\/([0-9a-f]{64})$/);
  if (m) return { room: m[1] ?? '', route: { name: m[2], key: m[3] } };
  m = fragment.match(/^(?:(.*)\/)?notifications$/);
  if (m) return { room: m[1] ?? '', route: { name: 'notifications' } };
  return { room: fragment, route: { name: 'home' } };
}

function routeHref(name, key) {
  const prefix = roomRaw ? `${roomRaw}/` : '';
  if (name === 'home') return `#${roomRaw}`;
  return `#${prefix}${name}${key ? `/${key}` : ''}`;
}

const isHttps = (url) => { try { return new URL(url).protocol === 'https:'; } catch { return false; } };

function profileFields(pk) {
  try {
    const value = JSON.parse(profiles.get(pk)?.content ?? 'null');
    return value && typeof value === 'object' ? value : {};
  } catch { return {}; }
}

// A picture is loaded only for ourselves and authors we follow, and only
// over https, lazily and without a referrer: a stranger's picture URL
// would tell its server who reads them, and when.
function pictureOf(pk) {
  const url = profileFields(pk).picture;
  if (typeof url !== 'string' || !isHttps(url)) return null;
  return pk === me || following.has(pk) ? url : null;
}

function avatar(pk, size = 'small') {
  const url = pictureOf(pk);
  const initial = [...(names.get(pk) || '?')][0].toUpperCase();
  const placeholder = () => el('span', { class: `avatar ${size} placeholder`, 'aria-hidden': 'true', text: initial });
  if (!url) return placeholder();
  const img = el('img', { class: `avatar ${size}`, src: url, alt: '', loading: 'lazy', referrerpolicy: 'no-referrer', decoding: 'async' });
  img.addEventListener('error', () => img.replaceWith(placeholder()));
  return img;
}

// What, besides the counts, a post row shows that can change.
function postSig(event) {
  return [pictureOf(event.pubkey), replyOpen.has(event.id), mentionedIn(event.content).map((pk) => displayName(pk))];
}

// --- NIP-10 replies ---
// The root and the parent a reply names: marked "e" tags, or the
// deprecated positional form (first is the root, last the parent).
function threadRefs(event) {
  const es = event.tags.filter((t) => t[0] === 'e' && HEX64.test(t[1] ?? ''));
  if (!es.length) return { root: null, parent: null };
  const root = es.find((t) => t[3] === 'root')?.[1];
  const reply = es.find((t) => t[3] === 'reply')?.[1];
  if (root || reply) return { root: root ?? reply, parent: reply ?? root };
  return { root: es[0][1], parent: es.at(-1)[1] };
}

// The tags of a reply to `parent`: the thread's root kept, the parent
// marked "reply" (a reply to the root names it once, as "root"), and
// everyone in the conversation so far as "p" (NIP-10).
function replyTags(parent) {
  const root = threadRefs(parent).root ?? parent.id;
  const tags = [['e', root, '', 'root']];
  if (root !== parent.id) tags.push(['e', parent.id, '', 'reply']);
  const pks = [parent.pubkey, ...parent.tags.filter((t) => t[0] === 'p' && HEX64.test(t[1] ?? '')).map((t) => t[1])];
  for (const pk of new Set(pks)) if (pk !== me) tags.push(['p', pk]);
  return tags;
}

function inReplyTo(event) {
  const { parent } = threadRefs(event);
  if (!parent) return null;
  const to = event.tags.find((t) => t[0] === 'p' && HEX64.test(t[1] ?? ''))?.[1];
  return el('p', { class: 'in-reply-to' },
    el('a', { href: routeHref('thread', parent), text: to ? `↪ in reply to ${displayName(to)}` : '↪ in reply to a post' }));
}

function replyButton(event) {
  const open = replyOpen.has(event.id);
  return el('button', {
    type: 'button', class: 'small reply', 'aria-expanded': open ? 'true' : 'false', text: 'Reply',
    'aria-label': `Reply to ${displayName(event.pubkey)}'s post`, dataset: { focusKey: `reply:${event.id}` },
    onclick: () => {
      if (open) replyOpen.delete(event.id);
      else { replyOpen.add(event.id); focusReply = event.id; }
      schedule();
    },
  });
}

function replyBox(event) {
  if (!replyOpen.has(event.id)) return null;
  const send = async (form) => {
    const box = form.querySelector('textarea');
    const text = box.value.trim();
    if (!text) { box.focus(); return; }
    await act(form.querySelector('button[type=submit]'), async () => {
      const [content, { tags: mentions }] = withMentions(text);
      const tags = replyTags(event);
      for (const tag of mentions) if (!tags.some((t) => t[0] === 'p' && t[1] === tag[1])) tags.push(tag);
      await feed.post(content, { tags });
      drafts.delete(event.id);
      replyOpen.delete(event.id);
      schedule();
    });
  };
  const area = el('textarea', {
    rows: 2, maxlength: 10000, class: 'reply-text', 'aria-label': `Your reply to ${displayName(event.pubkey)}`,
    placeholder: 'Write a reply (Ctrl+Enter to send)', dataset: { focusKey: `reply-text:${event.id}` },
    oninput: (e) => drafts.set(event.id, e.target.value),
    onkeydown: (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); send(e.target.form); } },
  });
  area.value = drafts.get(event.id) ?? '';
  return el('form', { class: 'reply-form', onsubmit: (e) => { e.preventDefault(); send(e.currentTarget); } },
    area,
    el('div', { class: 'compose-actions' }, el('button', { type: 'submit', class: 'small primary', text: 'Send reply' })));
}

// A click on a post's text (not a link in it, not a selection) opens its thread.
function openFromContent(e, id) {
  if (e.target.closest('a') || String(getSelection())) return;
  location.hash = routeHref('thread', id);
}

// --- NIP-27 mentions ---
// "@Name" of an author we know (a name in force; followed ones first)
// becomes nostr:npub1... and a "p" tag. -> [content, { tags }]
function withMentions(text) {
  const known = new Map();   // lower-cased name -> pubkey
  for (const [pk, name] of names) if (!known.has(name.toLowerCase()) || following.has(pk)) known.set(name.toLowerCase(), pk);
  const pks = new Set();
  // Longest names first, so "@Al Smith" is not taken for "@Al".
  const sorted = [...known.keys()].sort((a, b) => b.length - a.length).map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  if (!sorted.length) return [text, { tags: [] }];
  const re = new RegExp(`(^|[^\\p{L}\\p{N}_@])@(${sorted.join('|')})(?![\\p{L}\\p{N}_])`, 'giu');
  const content = text.replace(re, (all, before, name) => {
    const pk = known.get(name.toLowerCase());
    pks.add(pk);
    return `${before}nostr:${nip19.bech32Encode('npub', hexBytes(pk))}`;
  });
  return [content, { tags: [...pks].map((pk) => ['p', pk]) }];
}

const hexBytes = (hex) => Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));
const NPUB_RE = /nostr:(npub1[02-9ac-hj-np-z]{58})/g;

function npubHex(npub) {
  try { return nip19.pubkeyHex(npub); } catch { return null; }
}

function mentionedIn(content) {
  return [...content.matchAll(NPUB_RE)].map((m) => npubHex(m[1])).filter(Boolean);
}

// A post's text as nodes: nostr:npub mentions become the author's name,
// linking to their profile; everything else stays text.
function contentNodes(content) {
  const nodes = [];
  let at = 0;
  for (const m of content.matchAll(NPUB_RE)) {
    const pk = npubHex(m[1]);
    if (!pk) continue;
    nodes.push(content.slice(at, m.index),
      el('a', { class: 'mention', href: routeHref('profile', pk), title: pk, dataset: { pubkey: pk }, text: `@${names.get(pk) || short(pk)}` }));
    at = m.index + m[0].length;
    if (!met.has(pk)) { wantProfile(pk); schedule(); }   // the name, next frame
  }
  nodes.push(content.slice(at));
  return nodes.filter((n) => n !== '');
}

// --- paged live queries ---
// The newest PAGE events of `filter`, kept live; older() reads the PAGE
// before the oldest held (see olderFilter).
function paged(filter, onevent = () => {}) {
  const p = { posts: new Map(), ready: false, more: false, loading: false };
  const add = (event) => {
    if (deleted.has(`${event.id}:${event.pubkey}`) || p.posts.has(event.id)) return false;
    p.posts.set(event.id, event);
    onevent(event);
    return true;
  };
  p.sub = watch({ ...filter, limit: PAGE }, (event) => { if (add(event)) schedule(); },
    () => { p.ready = true; p.more = p.posts.size >= PAGE; schedule(); });
  p.older = async () => {
    if (p.loading) return;
    p.loading = true;
    try {
      const query = olderFilter(filter, p.posts.values(), PAGE);
      stats.queries++;
      const got = await feed.query(query);
      let added = 0;
      for (const event of got) if (add(event)) added++;
      p.more = got.length >= query.limit && added > 0;
    } finally {
      p.loading = false;
      schedule();
    }
  };
  p.close = () => p.sub.close();
  return p;
}

// The page before the oldest of `held`: `until` is inclusive, and a burst
// of posts can share a second, so the limit grows by those held at that
// second -- they come again and are skipped, and the page still brings
// `page` posts not shown yet.
function olderFilter(filter, held, page) {
  const times = [...held].map((e) => e.created_at);
  if (!times.length) return { ...filter, limit: page };
  const until = Math.min(...times);
  return { ...filter, until, limit: page + times.filter((t) => t === until).length };
}

function socialDeleted(id, author) {
  for (const p of [view.paged, view.rootPaged, notes.paged]) {
    if (p?.posts.get(id)?.pubkey === author) p.posts.delete(id);
  }
}

// Posts the open view shows keep their decorations (see trim).
function viewHolds(id) {
  return !!(view.paged?.posts.has(id) || view.rootPaged?.posts.has(id));
}

function olderButton(p, label) {
  if (!p?.ready || !p.more) return null;
  return el('button', {
    type: 'button', class: 'older', text: p.loading ? 'Loading…' : label, disabled: p.loading,
    onclick: (e) => act(e.currentTarget, p.older),
  });
}

// --- routing ---
function route() {
  const { route: r } = splitRoute(location.hash.slice(1));
  if (view.name === r.name && view.key === r.key) return;
  view.paged?.close();
  view.rootPaged?.close();
  view = { name: r.name, key: r.key };
  if (r.name === 'thread') {
    openThread(view);
  } else if (r.name === 'profile') {
    wantProfile(r.key);
    view.paged = paged({ kinds: [1], authors: [r.key] }, track);
  } else if (r.name === 'notifications') {
    markSeen();
  }
  $('home').hidden = r.name !== 'home';
  $('view').hidden = r.name === 'home';
  $('view-body').replaceChildren();
  for (const [id, name] of [['nav-home', 'home'], ['nav-notifications', 'notifications'], ['nav-me', 'profile']]) {
    const current = name === r.name && (name !== 'profile' || r.key === me);
    if (current) $(id).setAttribute('aria-current', 'page');
    else $(id).removeAttribute('aria-current');
  }
  window.scrollTo(0, 0);
  schedule();
}

// A thread is read from its root: the root itself, and every post that
// names it (NIP-10 replies at any depth keep the root).
async function openThread(v) {
  const [post] = await feed.query({ ids: [v.key] });
  if (view !== v) return;
  v.root = (post && threadRefs(post).root) || v.key;
  v.rootPaged = paged({ ids: [v.root] }, track);
  v.paged = paged({ kinds: [1], '#e': [v.root] }, track);
  schedule();
}

// The thread as rows in reading order: each post followed by its replies
// (oldest first), depth-first. A reply whose parent is not held (not
// synced, or on an older page) hangs from the root.
function threadRows(v) {
  const root = v.rootPaged?.posts.get(v.root);
  const all = [...(v.paged?.posts.values() ?? [])].filter((e) => !muted.has(e.pubkey));
  const held = new Set(all.map((e) => e.id));
  const children = new Map();
  for (const e of all) {
    let { parent } = threadRefs(e);
    if (!held.has(parent)) parent = v.root;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(e);
  }
  const rows = [];
  const walk = (id, depth) => {
    for (const e of (children.get(id) ?? []).sort((a, b) => -order(a, b))) {
      rows.push({ event: e, depth });
      walk(e.id, depth + 1);
    }
  };
  if (root && !muted.has(root.pubkey)) rows.push({ event: root, depth: 0 });
  walk(v.root, 1);
  return rows;
}

function decorated(event) {
  const counts = around.get(event.id);
  if (!counts) { track(event); return { event, reactions: 0, replies: 0, mine: false }; }
  const { reactions, replies } = counts;
  return { event, reactions: reactions.size, replies: replies.size, mine: [...reactions.values()].includes(me) };
}

function postItem(event, extra = {}) {
  const item = decorated(event);
  const sig = JSON.stringify([item.mine, item.reactions, item.replies, displayName(event.pubkey), following.has(event.pubkey), postSig(event), extra.depth]);
  return {
    key: event.id, sig, make: () => {
      const row = postView(item);
      if (extra.depth !== undefined) {
        row.dataset.depth = String(extra.depth);
        row.style.setProperty('--depth', String(Math.min(extra.depth, 4)));
      }
      if (extra.focus) row.classList.add('focus');
      return row;
    },
  };
}

// The view's frame: builds its skeleton once (kept while the route is),
// then patches its lists like the timeline's.
function renderSocial() {
  renderBadge();
  if (view.name === 'home') return;
  const body = $('view-body');
  if (view.name === 'thread') renderThread(body);
  else if (view.name === 'profile') renderProfile(body);
  else renderNotifications(body);
  if (focusReply) {
    document.querySelector(`[data-focus-key="reply-text:${CSS.escape(focusReply)}"]`)?.focus();
    focusReply = null;
  }
}

function skeleton(body, kind, make) {
  if (body.dataset.view !== kind) {
    body.dataset.view = kind;
    body.replaceChildren(...make());
  }
}

function renderThread(body) {
  skeleton(body, `thread:${view.key}`, () => [
    el('h2', { class: 'view-title', text: 'Thread' }),
    el('p', { id: 'thread-empty', class: 'empty', text: 'Looking for this post…' }),
    el('div', { id: 'thread-older' }),
    el('ol', { id: 'thread', class: 'timeline thread' }),
  ]);
  const rows = threadRows(view);
  $('thread-empty').hidden = rows.length > 0;
  if (view.rootPaged?.ready && !rows.length) $('thread-empty').textContent = 'This post is not here: it was deleted, or no peer has brought it yet.';
  $('thread-older').replaceChildren(...[olderButton(view.paged, 'Load earlier replies')].filter(Boolean));
  renderKeyed($('thread'), rows.map(({ event, depth }) => postItem(event, { depth, focus: event.id === view.key })));
}

function renderProfile(body) {
  const pk = view.key;
  skeleton(body, `profile:${pk}`, () => [
    el('section', { id: 'profile-card', class: 'card profile-card' }),
    el('h2', { class: 'view-title', text: 'Posts' }),
    el('p', { id: 'profile-empty', class: 'empty', hidden: true }),
    el('ol', { id: 'profile-posts', class: 'timeline' }),
    el('div', { id: 'profile-older' }),
  ]);
  const fields = profileFields(pk);
  const about = typeof fields.about === 'string' ? fields.about : '';
  const followed = following.has(pk);
  const isMuted = muted.has(pk);
  const sig = JSON.stringify([names.get(pk), about, pictureOf(pk), followed, isMuted]);
  const card = $('profile-card');
  if (card.dataset.sig !== sig) {
    card.dataset.sig = sig;
    const buttons = pk === me ? [el('span', { class: 'muted-text', text: 'This is you: edit your name, about and picture under “You”.' })] : [
      el('button', { type: 'button', class: `small ${followed ? 'unfollow' : 'follow'}`, id: 'profile-follow', text: followed ? 'Unfollow' : 'Follow',
        onclick: (e) => act(e.currentTarget, () => (followed ? unfollow : follow)(pk)) }),
      el('button', { type: 'button', class: `small ${isMuted ? 'unmute' : 'mute'}`, id: 'profile-mute', text: isMuted ? 'Unmute' : 'Mute',
        onclick: (e) => act(e.currentTarget, () => (isMuted ? feed.unmute(pk) : feed.mute(pk))) }),
    ];
    card.replaceChildren(
      avatar(pk, 'large'),
      el('div', { class: 'profile-text' },
        el('h2', { id: 'profile-name', text: names.get(pk) || 'No name yet' }),
        el('code', { class: 'pubkey', title: pk, text: nip19.bech32Encode('npub', hexBytes(pk)) }),
        el('p', { id: 'profile-about', text: about }),
        el('div', { class: 'post-actions' }, ...buttons)));
  }
  const posts = isMuted ? [] : [...(view.paged?.posts.values() ?? [])].sort(order);
  const empty = $('profile-empty');
  empty.hidden = !view.paged?.ready || posts.length > 0;
  empty.textContent = isMuted ? 'Muted: their posts are hidden and refused.'
    : followed || pk === me ? 'No posts yet.' : 'No posts here: follow them to fetch their posts.';
  renderKeyed($('profile-posts'), posts.map((e) => postItem(e)));
  $('profile-older').replaceChildren(...[isMuted ? null : olderButton(view.paged, 'Load older posts')].filter(Boolean));
}

// --- notifications: replies to, mentions of and reactions to us ---
function notifications() {
  return [...(notes.paged?.posts.values() ?? [])]
    .filter((e) => e.pubkey !== me && !muted.has(e.pubkey)).sort(order);
}

function renderBadge() {
  const unread = notifications().filter((e) => e.created_at > notes.seen).length;
  $('notif-count').hidden = unread === 0;
  $('notif-count').textContent = String(unread);
  $('nav-notifications').setAttribute('aria-label', `Notifications${unread ? ` (${unread} unread)` : ''}`);
  // While the list is open, what arrives is seen.
  if (view.name === 'notifications' && unread) markSeen();
}

function markSeen() {
  const newest = Math.max(0, ...notifications().map((e) => e.created_at));
  notes.seen = Math.max(notes.seen, newest);
  feed.setState(SEEN_KEY, notes.seen).catch(showError);
}

function noteView(event) {
  const who = displayName(event.pubkey);
  const target = event.kind === 7 ? event.tags.filter((t) => t[0] === 'e').at(-1)?.[1] : threadRefs(event).parent;
  const targetPost = target && notes.targets.get(target);
  const what = event.kind === 7 ? `reacted ${event.content === '+' || event.content === '' ? '+' : event.content} to your post`
    : target ? 'replied' : 'mentioned you';
  const when = new Date(event.created_at * 1000);
  return el('li', { class: `note note-${event.kind === 7 ? 'reaction' : target ? 'reply' : 'mention'}`, dataset: { id: event.id, pubkey: event.pubkey } },
    avatar(event.pubkey),
    el('div', { class: 'note-text' },
      el('p', {},
        el('a', { class: 'author', href: routeHref('profile', event.pubkey), text: who }), ` ${what} `,
        el('time', { class: 'ago', datetime: when.toISOString(), dataset: { ts: event.created_at }, text: ago(event.created_at) })),
      event.kind === 1
        ? el('a', { class: 'note-content', href: routeHref('thread', event.id) }, ...contentNodes(event.content))
        : targetPost ? el('a', { class: 'note-content quoted', href: routeHref('thread', target), text: targetPost.content }) : null));
}

function renderNotifications(body) {
  skeleton(body, 'notifications', () => [
    el('h2', { class: 'view-title', text: 'Notifications' }),
    el('p', { id: 'notes-empty', class: 'empty', text: 'Nothing yet: replies to your posts, reactions and mentions show up here.' }),
    el('ol', { id: 'notes', class: 'notes card' }),
    el('div', { id: 'notes-older' }),
  ]);
  const list = notifications();
  for (const e of list) if (e.kind === 7) { const t = e.tags.filter((x) => x[0] === 'e').at(-1)?.[1]; if (t && HEX64.test(t) && !notes.targets.has(t)) targetReader.add(t); }
  targetReader.read();
  $('notes-empty').hidden = list.length > 0;
  $('notes').hidden = list.length === 0;
  renderKeyed($('notes'), list.map((e) => {
    const target = e.kind === 7 ? notes.targets.get(e.tags.filter((x) => x[0] === 'e').at(-1)?.[1]) : null;
    return { key: e.id, sig: JSON.stringify([displayName(e.pubkey), pictureOf(e.pubkey), !!target]), make: () => noteView(e) };
  }));
  $('notes-older').replaceChildren(...[olderButton(notes.paged, 'Load older notifications')].filter(Boolean));
}

// Loads what the views need, opens the notifications' live query and the
// route in the URL. Runs once the feed is open.
async function startSocial() {
  nip19 = await import('/hiroba/js-glue/nip19.js');
  // A "#pair=..." link is an invite in the lobby, not a room or a view.
  roomRaw = pairHash ? '' : splitRoute(location.hash.slice(1)).room;
  const seen = await feed.getState(SEEN_KEY).catch(() => null);
  notes.seen = Number.isSafeInteger(seen) ? seen : 0;
  notes.paged = paged({ kinds: [1, 7], '#p': [me] }, (event) => wantProfile(event.pubkey));
  $('nav-home').href = routeHref('home');
  $('back').href = routeHref('home');
  $('nav-notifications').href = routeHref('notifications');
  $('nav-me').href = routeHref('profile', me);
  $('timeline-older').addEventListener('click', (e) => act(e.currentTarget, loadOlderPosts));
  route();
}

// The timeline's next page: the LIMIT posts before the oldest shown.
async function loadOlderPosts() {
  if (!shown) return;
  const query = olderFilter({ kinds: [1], authors: shown.authors }, trim(), LIMIT);
  stats.queries++;
  const got = await feed.query(query);
  let added = 0;
  for (const event of got) {
    if (shown.posts.has(event.id) || deleted.has(`${event.id}:${event.pubkey}`)) continue;
    shown.posts.set(event.id, event);
    track(event);
    added++;
  }
  olderDone = got.length < query.limit || added === 0;
  limit += added;
  await Promise.all([aroundReader.read(), profileReader.read()]);
  schedule();
}

// --- peers and sync --------------------------------------------------------------
const gone = new Map(); // peerKey -> {info, at}: closed peers, listed a while
// A peer met in the room and the same key paired are two connections.
const peerKey = (p) => (p.paired ? `pair:${p.pubkey}` : p.pubkey);
let goneTimer = null;

// What the panel says about a connection: connecting, direct, relayed
// via TURN, closing or closed.
function peerLabel(p) {
  const how = p.paired ? 'paired, ' : '';
  if (p.state === 'open') return how + (p.route === 'relayed' ? 'relayed via TURN' : p.route === 'direct' ? 'direct' : 'open');
  return how + p.state;
}

// Events accepted from a peer on its current (or last) connection.
function peerReceived(pk) {
  const live = [room, ...pairs].flatMap((h) => h?.stats().peers ?? []).find((s) => s.pubkey === pk);
  return live?.received ?? syncs.get(pk)?.received ?? 0;
}

function peerView(p, received) {
  const followed = following.has(p.pubkey);
  return el('li', { class: 'peer', dataset: { pubkey: p.pubkey, state: p.state, route: p.route ?? '', paired: p.paired ? '1' : '' } },
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
      dataset: { focusKey: `peer:${peerKey(p)}` },
      onclick: (e) => act(e.currentTarget, () => (followed ? unfollow : follow)(p.pubkey)),
    }));
}

function renderPeers() {
  // Paired connections are peers too, met without the room.
  const paired = [...pairs].filter((h) => h.state !== 'closed')
    .map((h) => ({ pubkey: h.pubkey, state: h.state, route: h.route, paired: true }));
  const live = [...(room ? room.peers.filter((p) => p.state !== 'closed') : []), ...paired];
  const now = Date.now();
  for (const p of room?.peers ?? []) if (p.state === 'closed') gone.set(p.pubkey, { info: p, at: now });
  for (const p of live) gone.delete(peerKey(p));
  for (const [pk, g] of gone) if (now - g.at > CLOSED_SHOWN_MS) gone.delete(pk);
  const peers = [...live, ...[...gone.values()].map((g) => ({ ...g.info, state: 'closed' }))];
  $('no-peers').hidden = peers.length > 0;
  renderKeyed($('peers'), peers.map((p) => {
    const received = peerReceived(p.pubkey);
    return {
      key: peerKey(p),
      sig: JSON.stringify([p.state, p.route, p.paired, names.get(p.pubkey), following.has(p.pubkey), received]),
      make: () => peerView(p, received),
    };
  }));
  const open = peers.filter((p) => p.state === 'open' && !p.paired).length;
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
  renderPeers();
  pair.on('sync', (p) => {
    if (p.done) pairStatus(`Paired with ${who}: in sync; new posts arrive as they are written.`);
    renderPeers();
  });
  pair.on('peer', (info) => {
    if (info.state === 'closed') {
      pairs.delete(pair);
      gone.set(`pair:${pair.pubkey}`, { info: { ...info, pubkey: pair.pubkey, paired: true }, at: Date.now() });
      pairStatus(`The paired connection to ${who} closed. Pair again to reconnect.`);
    }
    renderPeers();
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
    await feed.post(...withMentions(text));
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
    const about = $('about-input').value.trim();
    const picture = $('picture-input').value.trim();
    if (picture && !isHttps(picture)) { showError(new Error('A picture is an https:// URL.')); $('picture-input').focus(); return; }
    act(e.submitter, () => feed.setProfile({ name, about, picture }));
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
  // Another room is another page; the same room's views are routes.
  window.addEventListener('hashchange', () => (roomFromHash(location.hash) === roomName ? route() : location.reload()));
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
  if (typeof profile?.about === 'string') $('about-input').value = profile.about;
  if (typeof profile?.picture === 'string') $('picture-input').value = profile.picture;
  $('loading').hidden = true;
  $('sidebar').hidden = false;
  $('content').hidden = false;
  wire();
  wirePairing();
  await startSocial();
  startModel();
  connectRelays();
  window.hirobaRelays = relays;   // for the console and tests
  connect();
}

main();
