// ours-sql-worker.js -- raw SQL on our VFS, for bench/opfs-writes.bench.js:
// build/test/vfs_bench.mjs (SQLite + src/vfs.c + storage_js.c, no engine)
// over openOpfsStorage(), the package's OPFS storage (js-glue/).
// The workload is sql-workload.js, the same one sahpool-worker.js runs.
//
// ops: setData({lines}) (event JSON texts, kept for the runs);
//   run({workload, pragmas, n, from, memory, countIo}) -> {ms, events,
//     tags, io, settings}: workload as sql-workload.js names it, pragmas
//     the statements to run first, on lines[from .. from+n), in a fresh database; memory: a
//     temporary database ('') that vfs.c keeps in heap memory instead of
//     OPFS; countIo: count the OPFS calls of the timed part;
//   release(): gives the OPFS handles back.
//
// ?build=<variant> in the worker's URL runs the program as
// bench/sqlite-opt.bench.js built it otherwise (mk/bench-opt.mk), on
// files of its own, so that variants can run side by side.

import { openOpfsStorage } from '/hiroba/js-glue/storage-opfs.js';
import { prepare, run } from './sql-workload.js';
import { ioCounter, serve } from './rpc-worker.js';

const counter = ioCounter();

const build = new URL(import.meta.url).searchParams.get('build');
if (build !== null && !/^[A-Za-z0-9-]{1,32}$/.test(build)) throw new Error(`bad build ${build}`);
// Imported in ready(), not by a top-level await: Firefox delivers messages
// while a module worker's top level is still waiting, and serve() would
// not be listening yet.
const PROGRAM = build ? `/test-build/opt/${build}/vfs_bench.mjs` : '/test-build/vfs_bench.mjs';
const NAME = build ? `bench-vfs-${build}` : 'bench-vfs';
let storage = null;
let m = null;
let lines = [];

// A NUL-terminated copy of s in wasm memory, made as the engine makes
// its inputs (js-glue/engine.js _in: TextEncoder, then one copy; the
// runtime's stringToUTF8 is a JS loop that took a third of the in-memory
// bulk's time); the caller frees it. sqlite-wasm's side takes strings
// through its own db.exec.
const encoder = new TextEncoder();
function cstr(s) {
  const bytes = encoder.encode(s);
  const p = m._malloc(bytes.length + 1);
  if (!p) throw new Error('out of memory');
  m.HEAPU8.set(bytes, p);
  m.HEAPU8[p + bytes.length] = 0;
  return p;
}

function exec(sql) {
  const pSql = cstr(sql);
  try {
    const rc = m._vfs_bench_exec(pSql);
    if (rc) throw new Error(`SQLite ${rc}: ${m.UTF8ToString(m._vfs_bench_errmsg())} in ${sql.slice(0, 80)}`);
    return m.UTF8ToString(m._vfs_bench_result());
  } finally {
    m._free(pSql);
  }
}

// Empties the three files, so every run starts from no database.
function wipe() {
  for (const f of storage.files) {
    const rc = storage.delete(f);
    if (rc < 0 && rc !== -3) throw new Error(`delete ${f}: ${storage.lastError()}`);
  }
}

async function ready() {
  if (m) return;
  const { default: createVfsBenchModule } = await import(PROGRAM);
  storage = await openOpfsStorage(NAME, { directory: 'hiroba-bench' });
  m = await createVfsBenchModule({ hirobaStorage: storage });
}

serve({
  async setData({ lines: l }) {
    await ready();
    lines = l;
    return lines.length;
  },

  async run({ workload, pragmas, n, from = 0, memory = false, countIo = false }) {
    await ready();
    wipe();
    const pPath = cstr(memory ? '' : storage.path);
    const rc = m._vfs_bench_open(pPath);
    m._free(pPath);
    if (rc) throw new Error(`open: ${m.UTF8ToString(m._vfs_bench_errmsg())}`);
    try {
      const settings = prepare(exec, pragmas);
      return { ...run(exec, workload, lines.slice(from, n === undefined ? undefined : from + n), countIo ? counter : null), settings };
    } finally {
      if (m._vfs_bench_close()) throw new Error(m.UTF8ToString(m._vfs_bench_errmsg()));
      wipe();
    }
  },

  release() {
    storage?.release();
    return true;
  },
});
