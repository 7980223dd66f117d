// storage-library.js -- Emscripten --js-library: the imports of
// src/storage_js.c (its twin; this list must match the other file):
//
//   hiroba_js_open(zPath, flags)        -> handle >= 0 | code < 0
//   hiroba_js_close(fd)                 -> 0 | code
//   hiroba_js_read(fd, p, n, offset)    -> bytes read | code
//   hiroba_js_write(fd, p, n, offset)   -> 0 | code
//   hiroba_js_truncate(fd, size)        -> 0 | code
//   hiroba_js_size(fd)                  -> size (a double) | code
//   hiroba_js_sync(fd)                  -> 0 | code
//   hiroba_js_delete(zPath)             -> 0 | code
//   hiroba_js_exists(zPath)             -> 1 | 0 | code
//   hiroba_js_errmsg(zBuf, nBuf)        copies the last failure's message
//
// Each forwards to Module.hirobaStorage, an object the host passes to the
// module factory: createHirobaModule({ wasmBinary, hirobaStorage }).
// Its interface (all synchronous; js-glue/storage-node.js implements it
// over node:fs, the browser worker over OPFS access handles):
//
//   open(path, flags)          -> handle (integer >= 0) or a negative code;
//                                 flags & 1 (STORAGE_CREATE): create when
//                                 missing, never truncating
//   close(fd)                  -> 0 or a negative code
//   read(fd, view, offset)     -> bytes read into the Uint8Array view at
//                                 byte offset (fewer at end of file, 0 past
//                                 it) or a negative code
//   write(fd, view, offset)    -> 0 once all of view is written, or < 0
//   truncate(fd, size)         -> 0 or a negative code (grows or shrinks)
//   size(fd)                   -> size in bytes or a negative code
//   sync(fd)                   -> 0 once durable, or a negative code
//   delete(path)               -> 0, -3 when missing, or a negative code
//   exists(path)               -> 1 | 0 | a negative code
//   lastError()                -> text of the last failure
//
// Codes are the STORAGE_* values of src/storage.h: -1 I/O error, -2 full
// (disk or quota), -3 no such file, -4 held by another owner, -5 access.
// Offsets and sizes are plain numbers (C passes them as doubles).
//
// Rules kept here: views of HEAPU8 are taken afresh on every call (memory
// may grow between calls, which replaces the buffer); nothing is ever
// thrown into wasm -- an exception or a malformed result becomes -1, and
// its message is kept for hiroba_js_errmsg.

mergeInto(LibraryManager.library, {
  $hirobaStorage: {
    lastError: "no error",

    // Runs fn(storage); returns its result, or -1 with the message kept.
    call: function (op, fn) {
      var storage = Module["hirobaStorage"];
      if (!storage || typeof storage !== "object") {
        hirobaStorage.lastError = op + ": Module.hirobaStorage is not set " +
          "(pass { hirobaStorage } to the module factory)";
        return -1;
      }
      try {
        return fn(storage);
      } catch (e) {
        var msg = e && e.message ? e.message : String(e);
        hirobaStorage.lastError = op + ": " + msg;
        return -1;
      }
    },

    // Checks a result: a non-negative integer passes (undefined too, as 0,
    // when voidOk: for methods whose only news is failure); a negative
    // code passes with the storage's message kept (unknown codes become
    // -1); anything else is an I/O error.
    check: function (op, storage, r, voidOk) {
      if (r === undefined && voidOk) return 0;
      if (typeof r === "number" && Number.isSafeInteger(r)) {
        if (r >= 0) return r;
        var msg = "";
        try {
          if (typeof storage.lastError === "function") msg = String(storage.lastError());
        } catch (e) { msg = ""; }
        hirobaStorage.lastError = msg || (op + " failed (code " + r + ")");
        return r >= -5 ? r : -1;
      }
      hirobaStorage.lastError = op + ": storage returned " + String(r);
      return -1;
    },
  },

  hiroba_js_open__deps: ["$hirobaStorage"],
  hiroba_js_open: function (zPath, flags) {
    var path = UTF8ToString(zPath);
    return hirobaStorage.call("open " + path, function (s) {
      return hirobaStorage.check("open " + path, s, s.open(path, flags), false);
    });
  },

  hiroba_js_close__deps: ["$hirobaStorage"],
  hiroba_js_close: function (fd) {
    return hirobaStorage.call("close", function (s) {
      return Math.min(hirobaStorage.check("close", s, s.close(fd), true), 0);
    });
  },

  hiroba_js_read__deps: ["$hirobaStorage"],
  hiroba_js_read: function (fd, p, n, offset) {
    return hirobaStorage.call("read", function (s) {
      var view = HEAPU8.subarray(p >>> 0, (p >>> 0) + n);
      var r = hirobaStorage.check("read", s, s.read(fd, view, offset), false);
      if (r > n) {
        hirobaStorage.lastError = "read: storage returned " + r + " for " + n + " bytes";
        return -1;
      }
      return r;
    });
  },

  hiroba_js_write__deps: ["$hirobaStorage"],
  hiroba_js_write: function (fd, p, n, offset) {
    return hirobaStorage.call("write", function (s) {
      var view = HEAPU8.subarray(p >>> 0, (p >>> 0) + n);
      return Math.min(hirobaStorage.check("write", s, s.write(fd, view, offset), true), 0);
    });
  },

  hiroba_js_truncate__deps: ["$hirobaStorage"],
  hiroba_js_truncate: function (fd, size) {
    return hirobaStorage.call("truncate", function (s) {
      return Math.min(hirobaStorage.check("truncate", s, s.truncate(fd, size), true), 0);
    });
  },

  hiroba_js_size__deps: ["$hirobaStorage"],
  hiroba_js_size: function (fd) {
    return hirobaStorage.call("size", function (s) {
      return hirobaStorage.check("size", s, s.size(fd), false);
    });
  },

  hiroba_js_sync__deps: ["$hirobaStorage"],
  hiroba_js_sync: function (fd) {
    return hirobaStorage.call("sync", function (s) {
      return Math.min(hirobaStorage.check("sync", s, s.sync(fd), true), 0);
    });
  },

  hiroba_js_delete__deps: ["$hirobaStorage"],
  hiroba_js_delete: function (zPath) {
    var path = UTF8ToString(zPath);
    return hirobaStorage.call("delete " + path, function (s) {
      return Math.min(hirobaStorage.check("delete " + path, s, s.delete(path), true), 0);
    });
  },

  hiroba_js_exists__deps: ["$hirobaStorage"],
  hiroba_js_exists: function (zPath) {
    var path = UTF8ToString(zPath);
    return hirobaStorage.call("exists " + path, function (s) {
      var r = s.exists(path);
      if (typeof r === "boolean") r = r ? 1 : 0;
      r = hirobaStorage.check("exists " + path, s, r, false);
      return r > 0 ? 1 : r;
    });
  },

  hiroba_js_errmsg__deps: ["$hirobaStorage"],
  hiroba_js_errmsg: function (zBuf, nBuf) {
    if (nBuf > 0) stringToUTF8(String(hirobaStorage.lastError), zBuf, nBuf);
  },
});
