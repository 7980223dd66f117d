// vfs-suite.js -- the VFS suite's test list, written once and run on every
// backend: tests/node/vfs-suite.test.js (node:fs) and, inside a Chromium
// worker, tests/e2e/vfs-suite.test.js (OPFS). Each entry names one export
// of tests/wasm/vfs_suite.c (built as build/test/vfs_suite.mjs); this list
// must match that file and the Makefile's VFS_SUITE_EXPORTS.
//
// Environment-agnostic: no Node or DOM APIs. It takes a ready module
// (createVfsSuiteModule({ hirobaStorage, ... }) resolved).

export const VFS_TESTS = [
  { name: 'VFS is registered as the default ("hiroba")', fn: 'vfs_test_register' },
  { name: 'xOpen: create flags, missing file, exclusive, read-only, two handles', fn: 'vfs_test_open' },
  { name: 'xOpen without a name: temp file in memory', fn: 'vfs_test_open_temp' },
  { name: 'xWrite/xRead round trip, holes read as zeros', fn: 'vfs_test_write_read' },
  { name: 'xRead past the end: zero-fill and SQLITE_IOERR_SHORT_READ', fn: 'vfs_test_short_read' },
  { name: 'xTruncate shrinks and zero-extends', fn: 'vfs_test_truncate' },
  { name: 'xFileSize follows writes and truncation, past 4 GiB too', fn: 'vfs_test_file_size' },
  { name: 'xSync, every flag', fn: 'vfs_test_sync' },
  { name: 'xDelete, NOENT, DELETEONCLOSE', fn: 'vfs_test_delete' },
  { name: 'xAccess: EXISTS, READWRITE, READ', fn: 'vfs_test_access' },
  { name: 'xFullPathname: names as given, too long refused', fn: 'vfs_test_full_pathname' },
  { name: 'xRandomness', fn: 'vfs_test_randomness' },
  { name: 'xCurrentTimeInt64, xCurrentTime, xSleep', fn: 'vfs_test_current_time' },
  { name: 'xGetLastError after a failed open', fn: 'vfs_test_last_error' },
  { name: 'xLock/xUnlock/xCheckReservedLock', fn: 'vfs_test_locks' },
  { name: 'xSectorSize/xDeviceCharacteristics/xFileControl', fn: 'vfs_test_sector_device' },
  { name: 'SQL: WAL + EXCLUSIVE, 10,000 rows, close, reopen, integrity_check', fn: 'vfs_test_sql_wal_reopen' },
  { name: 'SQL: rollback keeps old data (WAL)', fn: 'vfs_test_sql_rollback_wal' },
  { name: 'SQL: rollback keeps old data (DELETE journal)', fn: 'vfs_test_sql_rollback_journal' },
  { name: 'SQL: temp store in memory, clock and randomness', fn: 'vfs_test_sql_temp_time_random' },
];

// Sets the folder the suite's three files live in ('' for none; else it
// should end in '/'). Node needs it: storage-node.js resolves relative
// paths against the process's working directory.
export function setPrefix(module, prefix) {
  const n = module.lengthBytesUTF8(prefix) + 1;
  const p = module._malloc(n);
  if (!p) throw new Error('vfs suite: out of memory');
  try {
    module.stringToUTF8(prefix, p, n);
    if (module._vfs_suite_set_prefix(p) !== 0) throw new Error(`vfs suite: prefix too long: ${prefix}`);
  } finally {
    module._free(p);
  }
}

// Runs one test (an entry of VFS_TESTS, or its fn name).
// -> { name, fn, ok, line, message }: line is the C source line of the
// first failed check (0 when ok), message lists every failed check.
export function runVfsTest(module, test) {
  const entry = typeof test === 'string' ? VFS_TESTS.find((t) => t.fn === test) : test;
  if (!entry) return { name: String(test), fn: String(test), ok: false, line: -1, message: `no such VFS test: ${test}` };
  const fn = module[`_${entry.fn}`];
  if (typeof fn !== 'function') {
    return { ...entry, ok: false, line: -1, message: `_${entry.fn} is not exported by the module (check VFS_SUITE_EXPORTS in the Makefile)` };
  }
  let line;
  try {
    line = fn();
  } catch (err) {
    // A trap in wasm (or an exception from the storage, which should never
    // escape storage-library.js): report it rather than lose the suite.
    try { module._vfs_suite_cleanup(); } catch { /* the report matters more */ }
    return { ...entry, ok: false, line: -1, message: `threw: ${err && err.stack ? err.stack : err}` };
  }
  const message = module.UTF8ToString(module._vfs_suite_message());
  return { ...entry, ok: line === 0, line, message };
}

// Runs every test in order. -> array of runVfsTest results.
export function runVfsSuite(module) {
  return VFS_TESTS.map((t) => runVfsTest(module, t));
}
