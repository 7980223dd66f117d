# bench-anchors.mk -- what bench/anchors.bench.js needs built from its two
# anchors, in build/test/anchors/ (served by the browser harness as
# /test-build/anchors/):
#   - nostr-idb as one ES module a page can import: the package imports
#     bare module names (idb, debug) that a browser cannot resolve without
#     a bundler; rolldown (vite's bundler, a devDependency) makes the bundle.
#   - @snort/worker-relay's worker (dist/esm/worker.mjs, one module with
#     SQLite inside) beside its sqlite3.wasm. The module still holds one
#     import a bundler must resolve, Vite's `import x from
#     "./sqlite3.wasm?url"` (the wasm file's URL); it is replaced by what
#     Vite makes of it, new URL("./sqlite3.wasm", import.meta.url).href,
#     and the rule fails if that import is not there exactly once.

ANCHORS := $(B)/test/anchors
WORKER_RELAY_ESM := node_modules/@snort/worker-relay/dist/esm

$(ANCHORS)/nostr-idb.js: package-lock.json | node_modules/.stamp
	@mkdir -p $(@D)
	node_modules/.bin/rolldown node_modules/nostr-idb/dist/index.js -o $@ -f esm -p browser --logLevel warn

$(ANCHORS)/worker-relay/worker.mjs: package-lock.json | node_modules/.stamp
	@mkdir -p $(@D)
	test "$$(grep -o 'import [$$A-Za-z_]* *from *"./sqlite3.wasm?url"' $(WORKER_RELAY_ESM)/worker.mjs | wc -l)" = 1
	sed -E 's|import ([$$A-Za-z_]+) *from *"\./sqlite3\.wasm\?url"|const \1=new URL("./sqlite3.wasm",import.meta.url).href|' \
	  $(WORKER_RELAY_ESM)/worker.mjs > $@.tmp
	cp $(WORKER_RELAY_ESM)/sqlite3.wasm $(@D)/sqlite3.wasm
	mv $@.tmp $@

BENCH_PREREQS += $(ANCHORS)/nostr-idb.js $(ANCHORS)/worker-relay/worker.mjs
