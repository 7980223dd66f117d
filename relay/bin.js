#!/usr/bin/env node
// bin.js -- the `hiroba-relay` command: a Nostr relay on the Hiroba engine.
//
//   hiroba-relay [--port 7777] [--host 127.0.0.1] [--db ./hiroba-relay.db]
//                [--allow <pubkey>... [--allow-follows]] [--auth-write]
//                [--auth-read] [--max-bytes N] [--name TEXT] [--trust-proxy]
//
// SIGINT/SIGTERM close every connection and the database cleanly; a
// SIGKILL loses nothing a client was answered OK true for.

import { startRelay } from './server.js';

const USAGE = `usage: hiroba-relay [options]
  --port N           TCP port (default 7777)
  --host ADDR        address to listen on (default 127.0.0.1)
  --db FILE          the SQLite database (default ./hiroba-relay.db)
  --allow PUBKEY...  accept events only from these authors (64-hex pubkeys)
  --allow-follows    ... and from whom they follow (their newest kind 3)
  --auth-write       publishing needs NIP-42 AUTH first
  --auth-read        reading (REQ, COUNT, NEG-OPEN) needs NIP-42 AUTH first
  --max-bytes N      database size budget; oldest events evicted past it (0: none)
  --name TEXT        the relay's name in NIP-11
  --trust-proxy      per-address limits use the last X-Forwarded-For entry
`;

function parse(argv) {
  const o = { port: 7777, host: '127.0.0.1', db: './hiroba-relay.db', allow: null, allowFollows: false, auth: {}, maxBytes: 0 };
  const value = (i, flag) => {
    if (i >= argv.length || argv[i].startsWith('--')) throw new Error(`${flag} needs a value`);
    return argv[i];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--port': o.port = Number(value(++i, a)); break;
      case '--host': o.host = value(++i, a); break;
      case '--db': o.db = value(++i, a); break;
      case '--name': o.name = value(++i, a); break;
      case '--max-bytes': o.maxBytes = Number(value(++i, a)); break;
      case '--allow':
        o.allow ??= [];
        o.allow.push(value(++i, a));
        while (i + 1 < argv.length && !argv[i + 1].startsWith('--')) o.allow.push(argv[++i]);
        break;
      case '--allow-follows': o.allowFollows = true; break;
      case '--auth-write': o.auth.write = true; break;
      case '--auth-read': o.auth.read = true; break;
      case '--trust-proxy': o.trustProxy = true; break;
      case '-h': case '--help': process.stdout.write(USAGE); process.exit(0); break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new Error('--port takes a port number');
  if (!Number.isSafeInteger(o.maxBytes) || o.maxBytes < 0) throw new Error('--max-bytes takes a whole number of bytes');
  if (o.allowFollows && !o.allow) throw new Error('--allow-follows needs --allow');
  return o;
}

async function main() {
  let options;
  try {
    options = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`hiroba-relay: ${err.message}\n${USAGE}`);
    process.exit(2);
  }
  const relay = await startRelay(options);
  console.log(`hiroba-relay: ${relay.url} (database ${options.db})`);
  const stop = async (sig) => {
    console.log(`hiroba-relay: ${sig}, closing`);
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    await relay.close();
    process.exit(0);
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err) => {
  console.error(`hiroba-relay: ${err?.code === 'EADDRINUSE' ? 'the port is in use (--port ...)' : err?.message ?? err}`);
  process.exit(1);
});
