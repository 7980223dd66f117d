// index.js -- the relay entry of the package ('hiroba/relay', Node only): a
// Nostr relay on the engine. startRelay runs it on an HTTP server of its
// own; createRelay gives handleUpgrade/handleInfo to mount on yours (the
// dev server's /relay). The hiroba-relay command is bin.js.
//
//   import { startRelay } from 'hiroba/relay';
//   const relay = await startRelay({ port: 7777, db: './relay.db' });

export { createRelay, RELAY_LIMITS } from './relay.js';
export { startRelay } from './server.js';
