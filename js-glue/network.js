// network.js -- the sync entry of the package ('hiroba/sync'): rooms of
// peers over WebRTC (joinRoom) and Nostr relays over WebSocket (joinRelay),
// for a feed from either entry ('hiroba' in browsers, 'hiroba/node').
// Apart from 'hiroba' so that a page that only stores never loads the
// signaling client, the peer pool and the sync driver.
//
//   import { openFeed } from 'hiroba';
//   import { joinRoom, joinRelay } from 'hiroba/sync';
//
// Browsers have RTCPeerConnection and WebSocket; in Node pass them in
// ({ RTCPeerConnection, WebSocket }, e.g. from @roamhq/wrtc and ws).

export { joinRoom } from './sync.js';
export { joinRelay } from './relay-client.js';
export { createInvite, acceptInvite } from './pair.js';
