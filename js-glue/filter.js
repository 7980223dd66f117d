// filter.js -- does an event match a NIP-01 filter? For live
// subscriptions: a feed's subscribe(), a peer's or a relay client's live
// REQ. Stored events are matched by the engine (which also checked the
// filter before anything was kept live); this never throws, whatever the
// filter holds.

export function matchFilter(filter, event) {
  if (!filter || typeof filter !== 'object' || Array.isArray(filter)) return false;
  for (const [key, value] of Object.entries(filter)) {
    if (key === 'limit') continue; // applies to stored events only
    if (key === 'since') { if (!(event.created_at >= value)) return false; continue; }
    if (key === 'until') { if (!(event.created_at <= value)) return false; continue; }
    if (!Array.isArray(value)) return false;
    if (key === 'ids') { if (!value.includes(event.id)) return false; }
    else if (key === 'authors') { if (!value.includes(event.pubkey)) return false; }
    else if (key === 'kinds') { if (!value.includes(event.kind)) return false; }
    else if (key.length === 2 && key[0] === '#') {
      const values = new Set(event.tags.filter((t) => t[0] === key[1]).map((t) => t[1]));
      if (!value.some((v) => values.has(v))) return false;
    } else return false;
  }
  return true;
}
