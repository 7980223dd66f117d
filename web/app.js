// app.js -- the Hiroba demo page: one feed in OPFS, one room over WebRTC.
// Plain DOM; user content only ever goes in through textContent.

import { openFeed, joinRoom, unsupported } from '/hiroba/index.js';

const $ = (id) => document.getElementById(id);
const short = (pk) => `${pk.slice(0, 8)}…${pk.slice(-4)}`;
const HEX64 = /^[0-9a-f]{64}$/;

// The room is the URL hash, percent-decoded. A malformed escape ("#50%")
// is taken as typed rather than stopping the page; the signaling server
// takes names of at most 128 characters, so longer ones are cut.
function roomFromHash(hash) {
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
const names = new Map();      // pubkey -> name, from profiles we hold
const syncs = new Map();      // peer pubkey -> last sync progress

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
// touched at all when no row changed. Lists re-render on every peer and
// feed event; replacing an unchanged row would swallow a click that lands
// while it happens.
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

// --- lists: following, muted, names ------------------------------------------------
async function refreshLists() {
  [following, muted] = await Promise.all([feed.following(), feed.muted()]).then(([f, m]) => [new Set(f), new Set(m)]);
  const known = [...new Set([me, ...following, ...muted, ...room?.peers.map((p) => p.pubkey) ?? []])];
  const profiles = await feed.query({ kinds: [0], authors: known });
  for (const e of profiles) {
    try {
      const name = JSON.parse(e.content)?.name;
      if (typeof name === 'string' && name.trim()) names.set(e.pubkey, name.trim());
    } catch { /* not a JSON profile */ }
  }
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

async function follow(pk) {
  await feed.follow(pk);
  room?.resync();   // fetch what they wrote before, and subscribe to what comes
}
async function unfollow(pk) {
  await feed.unfollow(pk);
  room?.resync();
}

// --- timeline --------------------------------------------------------------------
let firstRender = true;

async function renderTimeline() {
  const items = (await feed.timeline({ limit: 100 })).filter((i) => !muted.has(i.event.pubkey));
  const ids = items.map((i) => i.event.id);
  const mine = ids.length ? await feed.query({ kinds: [7], authors: [me], '#e': ids }) : [];
  const reacted = new Set(mine.map((r) => r.tags.filter((t) => t[0] === 'e').at(-1)?.[1]));
  for (const { profile, event } of items) {
    if (typeof profile?.name === 'string' && profile.name.trim()) names.set(event.pubkey, profile.name.trim());
  }
  $('timeline-loading').hidden = true;
  $('empty').hidden = items.length > 0;
  renderKeyed($('timeline'), items.map((item) => {
    const { event, reactions, replies } = item;
    const mine = reacted.has(event.id);
    const sig = JSON.stringify([mine, reactions, replies, displayName(event.pubkey), following.has(event.pubkey)]);
    return { key: event.id, sig, make: () => postView(item, mine) };
  }));
  if (firstRender) {
    firstRender = false;
    $('app').setAttribute('aria-busy', 'false');
  }
}

function postView({ event, reactions, replies }, reactedByMe) {
  const own = event.pubkey === me;
  const count = Object.values(reactions ?? {}).reduce((a, b) => a + b, 0);
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

function peerView(p) {
  const followed = following.has(p.pubkey);
  return el('li', { class: 'peer', dataset: { pubkey: p.pubkey, state: p.state, route: p.route ?? '' } },
    el('div', { class: 'peer-who' },
      names.get(p.pubkey)
        ? el('span', { class: 'peer-name', text: names.get(p.pubkey) })
        : el('span', { class: 'peer-name unnamed', text: 'No name yet' }),
      el('code', { class: 'pubkey', title: p.pubkey, text: short(p.pubkey) })),
    el('div', { class: 'peer-meta' },
      el('span', { class: `state state-${p.state}`, text: peerLabel(p) })),
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
  renderKeyed($('peers'), peers.map((p) => ({
    key: p.pubkey,
    sig: JSON.stringify([p.state, p.route, names.get(p.pubkey), following.has(p.pubkey)]),
    make: () => peerView(p),
  })));
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

const refresh = debounce(async () => {
  await refreshLists();
  renderPeers();
  await renderTimeline();
}, 120);

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
  window.addEventListener('pagehide', () => room?.leave());
  // Keep "3m ago" honest.
  setInterval(() => {
    for (const t of document.querySelectorAll('time.ago')) t.textContent = ago(Number(t.dataset.ts));
  }, 30_000);
}

async function connect() {
  if (typeof globalThis.RTCPeerConnection !== 'function') {
    // The feed works alone; say plainly why nobody will be met.
    $('room-status').textContent = 'Offline: no WebRTC in this browser';
    $('no-peers').textContent = 'This browser lacks WebRTC (RTCPeerConnection), so it cannot meet peers. Your posts are kept in this browser but cannot reach anyone from it.';
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
  room.on('peer', () => { renderPeers(); refresh(); });
  room.on('sync', (s) => { syncs.set(s.peer, s); renderSync(); });
  room.on('error', (err) => showError(err, { transient: true }));
  window.hirobaRoom = room;   // for the console and tests
  renderPeers();
}

async function main() {
  $('room-name').textContent = roomName;
  const lacking = unsupported();
  if (lacking) {
    $('loading').hidden = true;
    const box = $('unsupported');
    box.textContent = `Hiroba cannot run in this browser: it lacks ${lacking}. Try a recent Chrome, Edge, Firefox or Safari, over https:// or on localhost.`;
    box.hidden = false;
    $('room-status').textContent = 'Unsupported browser';
    $('app').setAttribute('aria-busy', 'false');
    return;
  }
  try {
    feed = await openFeed({ name: 'default' });
    me = (await feed.identity()).pubkey;
  } catch (err) {
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
  feed.on('event', refresh);
  refresh();
  connect();
}

main();
