// rpc-worker.js -- the message loop every bench worker uses: in
// {id, op, args}, out {id, ok: true, result} or {id, ok: false, error}.
// serve(ops) answers with ops[op](args), awaited.

export function serve(ops) {
  self.onmessage = async ({ data }) => {
    const { id, op, args } = data ?? {};
    try {
      if (!Object.hasOwn(ops, op)) throw new Error(`unknown op ${op}`);
      self.postMessage({ id, ok: true, result: await ops[op](args ?? {}) });
    } catch (err) {
      self.postMessage({ id, ok: false, error: { name: err?.name ?? 'Error', message: err?.stack ?? String(err) } });
    }
  };
}

// Counts what reaches OPFS: every FileSystemSyncAccessHandle call in this
// worker (read, write, flush, truncate, getSize), with bytes and time, so
// two VFSes can be compared by the I/O they cause. The wrappers stay
// installed; counting happens between start() and stop() only.
let io = null;   // the counters while counting, else null
const IO_METHODS = ['read', 'write', 'flush', 'truncate', 'getSize'];
export function ioCounter() {
  const proto = globalThis.FileSystemSyncAccessHandle?.prototype;
  if (proto && !proto.__benchWrapped) {
    proto.__benchWrapped = true;
    for (const name of IO_METHODS) {
      const original = proto[name];
      proto[name] = function (...args) {
        if (!io) return original.apply(this, args);
        const t0 = performance.now();
        const r = original.apply(this, args);
        const c = io[name];
        c.ms += performance.now() - t0;
        c.calls++;
        if (name === 'read' || name === 'write') c.bytes += args[0].byteLength;
        return r;
      };
    }
  }
  return {
    start() {
      io = Object.fromEntries(IO_METHODS.map((n) => [n, { calls: 0, bytes: 0, ms: 0 }]));
    },
    stop() {
      const r = io;
      io = null;
      return r;
    },
  };
}
