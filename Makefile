# Hiroba -- build, test and demo.
#
#   make            the wasm engine the package ships, build/hiroba/hiroba.mjs
#                   + hiroba.wasm (the JS glue is js-glue/, shipped as is)
#   make setup      install what is missing: Debian packages (emscripten,
#                   clang runtimes), npm devDependencies, and the pinned,
#                   checksummed third-party C sources (deps/, git-ignored)
#   make native     the same C built natively: build/native/libhiroba.a, and
#                   the C test binaries under AddressSanitizer + UBSan
#   make test       setup, build, then every suite: the typed examples
#                   (tsc, tests/types), native C tests, the fuzz
#                   seeds and regressions, node --test, browser tests
#                   (tests/e2e, headless Chromium and Firefox; set
#                   HIROBA_BROWSERS=chromium or =firefox for one)
#   make demo       setup, build, serve the demo on http://127.0.0.1:8080
#   make bench      setup, build, run bench/*.bench.js: every figure with its
#                   anchor and ratio (mk/bench.mk; BENCH=name runs some)
#   make fuzz       libFuzzer on the frame parser/merge, the verifier and the
#                   Negentropy decoder, FUZZ_SECONDS each (mk/fuzz.mk)
#   make clean      remove our objects and outputs (keeps the cached
#                   third-party objects, so SQLite is not rebuilt)
#   make distclean  remove build/, deps/ and node_modules/
#
# Third-party objects (SQLite, cJSON, libsecp256k1) are built once per
# flavour into build/*/third/ and depend only on their sources, so changing
# our C never recompiles SQLite.

SHELL := /bin/bash
EMCC ?= emcc
CC := clang
NODE ?= node
# Debian's emcc needs Debian's node modules (acorn) with the machine's node.
export NODE_PATH := /usr/share/nodejs

B := build
SRC := strbuf hex sha256 json crypto refused event vfs store state sql_list query negentropy merge hiroba
NATIVE_SRC := $(SRC) storage_posix
WASM_SRC := $(SRC) storage_js
TESTS := $(patsubst tests/native/%.c,%,$(wildcard tests/native/test_*.c))

# What the engine never uses, left out of SQLite (the wasm is downloaded by
# every visitor). Only options that build from the amalgamation are here:
# those the pre-generated parser refers to (views, triggers, CTEs, window
# functions, ALTER, ATTACH, VACUUM, ANALYZE, REINDEX) must stay. JSON goes
# because lists are bound with hiroba_list() (src/sql_list.c); the schema
# pragmas (table_info, index_list, ...) go because nothing reads the schema.
SQLITE_OMIT := -DSQLITE_OMIT_JSON -DSQLITE_OMIT_AUTHORIZATION \
  -DSQLITE_OMIT_COMPLETE -DSQLITE_OMIT_DECLTYPE -DSQLITE_OMIT_GET_TABLE \
  -DSQLITE_OMIT_PROGRESS_CALLBACK -DSQLITE_OMIT_TCL_VARIABLE -DSQLITE_OMIT_TRACE \
  -DSQLITE_OMIT_UTF16 -DSQLITE_OMIT_INTROSPECTION_PRAGMAS -DSQLITE_OMIT_DESERIALIZE \
  -DSQLITE_OMIT_DATETIME_FUNCS -DSQLITE_OMIT_LOCALTIME -DSQLITE_OMIT_AUTOVACUUM \
  -DSQLITE_OMIT_INCRBLOB -DSQLITE_OMIT_FOREIGN_KEY -DSQLITE_OMIT_CHECK \
  -DSQLITE_OMIT_GENERATED_COLUMNS -DSQLITE_OMIT_EXPLAIN -DSQLITE_OMIT_HEX_INTEGER \
  -DSQLITE_OMIT_BLOB_LITERAL -DSQLITE_OMIT_XFER_OPT \
  -DSQLITE_OMIT_TEMPDB -DSQLITE_OMIT_COMPILEOPTION_DIAGS -DSQLITE_OMIT_MEMORYDB \
  -DSQLITE_OMIT_CASE_SENSITIVE_LIKE_PRAGMA -DSQLITE_OMIT_SEH -DSQLITE_UNTESTABLE \
  -DSQLITE_OMIT_LIKE_OPTIMIZATION -DSQLITE_OMIT_BETWEEN_OPTIMIZATION \
  -DSQLITE_OMIT_AUTORESET -DSQLITE_OMIT_POPEN -DSQLITE_OMIT_AUTOINCREMENT \
  -DSQLITE_OMIT_FLAG_PRAGMAS -DSQLITE_OMIT_AUTOMATIC_INDEX -DSQLITE_OMIT_BTREECOUNT \
  -DSQLITE_OMIT_TRUNCATE_OPTIMIZATION -DSQLITE_OMIT_OR_OPTIMIZATION \
  -DSQLITE_OMIT_SCHEMA_PRAGMAS
# SQLITE_USE_ALLOCA: b-tree rebalancing takes its scratch space from the
# stack instead of a malloc per balance (smaller and no slower).
SQLITE_DEFS := -DSQLITE_OS_OTHER=1 -DSQLITE_THREADSAFE=0 -DSQLITE_TEMP_STORE=3 \
  -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_OMIT_SHARED_CACHE -DSQLITE_OMIT_DEPRECATED \
  -DSQLITE_DEFAULT_MEMSTATUS=0 -DSQLITE_DQS=0 -DSQLITE_LIKE_DOESNT_MATCH_BLOBS \
  -DSQLITE_MAX_EXPR_DEPTH=0 -DSQLITE_DEFAULT_FOREIGN_KEYS=0 -DSQLITE_USE_ALLOCA \
  $(SQLITE_OMIT)
# Precomputed tables: ECMULT_WINDOW_SIZE=6 (2 KiB) instead of the default 15
# (1 MiB of incompressible points in the wasm; by count of operations a
# verification then makes ~3% more point additions, an estimate: the
# difference was below this machine's noise); ECMULT_GEN_PREC_BITS=2 (32 KiB) for
# signing, which is rare. bench/verify shows the speed that is left.
SECP_DEFS := -Ideps/secp256k1/include -Ideps/secp256k1/src \
  -DENABLE_MODULE_SCHNORRSIG=1 -DENABLE_MODULE_EXTRAKEYS=1 \
  -DECMULT_WINDOW_SIZE=6 -DECMULT_GEN_PREC_BITS=2
# wasm32 has no native 64x64->128 multiply: clang's emulated __int128 calls
# compiler-rt's __multi3 for every limb product, so the 10x26 field with
# 64-bit products is twice as fast there (measured per verification, CPU
# time: 351 us with INT128, 170 us with INT64, both at -Os).
SECP_WASM_DEFS := -DUSE_FORCE_WIDEMUL_INT64=1
INCLUDES := -Isrc -Ideps/sqlite -Ideps/cjson -Ideps/secp256k1/include
OUR_WARN := -Wall -Wextra -Wno-unused-parameter -std=c11 -D_DEFAULT_SOURCE

# Flavours: compiler and flags per output folder. The wasm is built for
# size: SQLite (most of the module) at -Oz, the rest at -Os, which costs
# libsecp256k1 15% of its verification speed against -O2 (170 vs 148 us)
# and saves 10 KB of the gzipped module. Linking at -O2 gives the smallest
# gzip (wasm-opt -Oz shrinks the raw module but it compresses worse).
# SQLite's own CPU is a small part of bench/opfs-writes' bulk insert (the
# same SQL, in memory, with the text already in wasm memory: ~55 ms in
# Node), so speed bought with size does not pay there: SQLite at -O2 made
# that 12% faster for +100 KB gzipped, -O2 -fno-inline-functions 1% for
# +7 KB, -Os nothing for +1 KB, linking at -O3 3-7% for +7 KB (2026-12-06).
# emmalloc instead of dlmalloc: 3 KB less gzipped, SQLite as fast.
WASM_FLAGS := -O2 -mbulk-memory -sMALLOC=emmalloc
WASM_OUR_FLAGS := -Os -mbulk-memory
WASM_SQLITE_FLAGS := -Oz -mbulk-memory
NATIVE_FLAGS := -O2 -g
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
  -fno-sanitize-recover=undefined

# Every symbol JS may call; hiroba__* are export-only shims (not in hiroba.h).
EXPORTS := hiroba_open hiroba_close hiroba_identity hiroba_post hiroba__post_ex hiroba__sign hiroba__verify hiroba_merge \
  hiroba__merge_n hiroba_query hiroba_count hiroba_free hiroba_errcode hiroba_errmsg \
  hiroba_constants hiroba__integrity_check hiroba__neg_open hiroba__neg_frame_limit \
  hiroba__neg_test_session hiroba__merge_batch hiroba__conn_close hiroba__conn_neg_open \
  hiroba__set_policy hiroba__state_get hiroba__state_set hiroba__adopt_key \
  hiroba__secret_key hiroba__adopt_pubkey hiroba__prepare hiroba__post_signed \
  hiroba__vouch hiroba__merge_vouched malloc free
comma := ,
empty :=
space := $(empty) $(empty)
# What only tests call (tests/node/negentropy.test.js): the shipped module
# leaves them out, the test module (build/hiroba-test/) has every export.
TEST_EXPORTS := hiroba__neg_test_session hiroba__neg_frame_limit
WASM_LDFLAGS := -sMODULARIZE -sEXPORT_ES6 -sEXPORT_NAME=createHirobaModule \
  -sENVIRONMENT=web,worker -sFILESYSTEM=0 -sALLOW_MEMORY_GROWTH=1 \
  -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8 \
  --js-library js-glue/storage-library.js

.PHONY: all wasm native test test-types test-native test-node test-e2e setup demo clean distclean check-emcc
.DELETE_ON_ERROR:

all: wasm
wasm: $(B)/hiroba/hiroba.mjs

# --- setup -----------------------------------------------------------------
DEPS_STAMPS := deps/sqlite/.stamp deps/cjson/.stamp deps/secp256k1/.stamp
setup: $(DEPS_STAMPS) node_modules/.stamp
	@./scripts/setup-system.sh

$(DEPS_STAMPS): scripts/fetch-deps.sh
	@./scripts/setup-system.sh
	@./scripts/fetch-deps.sh

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

check-emcc:
	@want=$$(cat emsdk-version); have=$$($(EMCC) --version | sed -n '1s/.* \([0-9][0-9.]*\) .*/\1/p'); \
	if [ "$$want" != "$$have" ]; then \
	  echo "emcc is $$have but emsdk-version pins $$want: install Debian's emscripten $$want (make setup), or update emsdk-version after testing the new version" >&2; exit 1; fi

# --- third-party objects, cached per flavour --------------------------------
THIRD := sqlite3 cJSON secp256k1 precomputed_ecmult precomputed_ecmult_gen

# Each flavour's flags are written to build/<flavour>/.flags, rewritten
# only when they change, so a flag change rebuilds what it affects (and
# nothing else: the cached SQLite object stays while only our code changes).
.PHONY: FORCE
FORCE:

define flavour # name, compiler, our flags, source list, SQLite flags, secp flags
$(1)_FLAGS_TEXT := $(2) $(3) $(5) $(6) $(SQLITE_DEFS) $(SECP_DEFS) $(if $(filter wasm,$(1)),$(SECP_WASM_DEFS))
$(B)/$(1)/.flags: FORCE
	@mkdir -p $$(@D)
	@echo '$$($(1)_FLAGS_TEXT)' | cmp -s - $$@ || echo '$$($(1)_FLAGS_TEXT)' > $$@
$(B)/$(1)/third/sqlite3.o: deps/sqlite/.stamp $(B)/$(1)/.flags
	@mkdir -p $$(@D)
	$(2) $(5) $(SQLITE_DEFS) -Ideps/sqlite -c deps/sqlite/sqlite3.c -o $$@
$(B)/$(1)/third/cJSON.o: deps/cjson/.stamp $(B)/$(1)/.flags
	@mkdir -p $$(@D)
	$(2) $(3) -c deps/cjson/cJSON.c -o $$@
$(B)/$(1)/third/%.o: deps/secp256k1/.stamp $(B)/$(1)/.flags
	@mkdir -p $$(@D)
	$(2) $(6) $(SECP_DEFS) $(if $(filter wasm,$(1)),$(SECP_WASM_DEFS)) -w -c deps/secp256k1/src/$$*.c -o $$@
$(B)/$(1)/%.o: src/%.c $(wildcard src/*.h) $(DEPS_STAMPS) $(B)/$(1)/.flags
	@mkdir -p $$(@D)
	$(2) $(3) $(OUR_WARN) $(SQLITE_DEFS) $(INCLUDES) -c $$< -o $$@
$(B)/$(1)/libhiroba.a: $(patsubst %,$(B)/$(1)/%.o,$(4)) $(patsubst %,$(B)/$(1)/third/%.o,$(THIRD))
	rm -f $$@
	$(if $(filter wasm,$(1)),emar,ar) rcs $$@ $$^
endef

$(eval $(call flavour,wasm,$(EMCC),$(WASM_OUR_FLAGS),$(WASM_SRC),$(WASM_SQLITE_FLAGS),$(WASM_OUR_FLAGS)))
$(eval $(call flavour,native,$(CC),$(NATIVE_FLAGS),$(NATIVE_SRC),$(NATIVE_FLAGS),$(NATIVE_FLAGS)))
$(eval $(call flavour,asan,$(CC),$(ASAN_FLAGS),$(NATIVE_SRC),$(ASAN_FLAGS),$(ASAN_FLAGS)))

# --- wasm modules ----------------------------------------------------------------
# Two links of one library, nothing recompiled: build/hiroba/ is what the
# package ships (the glue imports ../build/hiroba/hiroba.mjs), and
# build/hiroba-test/ adds TEST_EXPORTS for the suites that call them. Each
# export list is kept in build/wasm/<folder>.exports, rewritten only when it
# changes, so a changed list relinks that module.
# (bench/sqlite-opt.bench.js links more: objects given before the library
# replace its members, e.g. SQLite built otherwise, with other link flags.)
define wasm_module # output folder, exported symbols[, objects, link flags, prerequisites]
$(B)/wasm/$(1).exports: FORCE
	@mkdir -p $$(@D)
	@echo '$(2)' | cmp -s - $$@ || echo '$(2)' > $$@
$(B)/$(1)/hiroba.mjs: $(3) $(5) $(B)/wasm/libhiroba.a $(B)/wasm/$(1).exports js-glue/storage-library.js | check-emcc
	@mkdir -p $$(@D)
	$(EMCC) $(or $(4),$(WASM_FLAGS)) $(WASM_LDFLAGS) \
	  -sEXPORTED_FUNCTIONS=$(subst $(space),$(comma),$(strip $(patsubst %,_%,$(2)))) \
	  $(3) $(B)/wasm/libhiroba.a -o $$@
	@# emcc writes the .wasm executable; it is data (and ships in the package).
	@chmod a-x $$(@D)/hiroba.wasm
endef
SHIPPED_EXPORTS := $(filter-out $(TEST_EXPORTS),$(EXPORTS))
$(eval $(call wasm_module,hiroba,$(SHIPPED_EXPORTS)))
$(eval $(call wasm_module,hiroba-test,$(EXPORTS)))

# --- native library and C tests --------------------------------------------------
native: $(B)/native/libhiroba.a $(patsubst %,$(B)/asan/%,$(TESTS)) $(B)/asan/hostile_runner

$(B)/asan/test_%: tests/native/test_%.c tests/native/check.h $(B)/asan/libhiroba.a
	$(CC) $(ASAN_FLAGS) $(OUR_WARN) $(INCLUDES) $< $(B)/asan/libhiroba.a -o $@

# test_plan checks the plans of the store's statements with EXPLAIN QUERY
# PLAN, which the shipped SQLite leaves out: it links a second SQLite
# object, built the same way but with EXPLAIN, ahead of the library (whose
# own SQLite object the linker then never pulls in). The wasm is unchanged.
$(B)/asan/explain/sqlite3.o: deps/sqlite/.stamp $(B)/asan/.flags
	@mkdir -p $(@D)
	$(CC) $(ASAN_FLAGS) $(filter-out -DSQLITE_OMIT_EXPLAIN,$(SQLITE_DEFS)) -Ideps/sqlite -c deps/sqlite/sqlite3.c -o $@
$(B)/asan/test_plan: tests/native/test_plan.c tests/native/check.h $(B)/asan/explain/sqlite3.o $(B)/asan/libhiroba.a
	$(CC) $(ASAN_FLAGS) $(OUR_WARN) $(INCLUDES) $< $(B)/asan/explain/sqlite3.o $(B)/asan/libhiroba.a -o $@

# The hostile-frame corpus runner, driven by tests/node/hostile.test.js.
$(B)/asan/hostile_runner: tests/native/hostile_runner.c tests/native/check.h $(B)/asan/libhiroba.a
	$(CC) $(ASAN_FLAGS) $(OUR_WARN) $(INCLUDES) $< $(B)/asan/libhiroba.a -o $@

test-native: native
	@set -e; for t in $(TESTS); do echo "# $$t"; ASAN_OPTIONS=detect_leaks=1 $(B)/asan/$$t; done

# --- wasm test modules (test-only C built to wasm, e.g. the VFS suite) ---------
WASM_TESTS := $(B)/test/vfs_suite.mjs $(B)/hiroba-test/hiroba.mjs

# The VFS suite: tests/wasm/vfs_suite.c on the real wasm VFS (our objects and
# the cached SQLite object, not recompiled), with the storage the host
# passes in: node:fs (tests/node) or OPFS (tests/e2e). Its exports, listed
# once here, must match the C file and tests/shared/vfs-suite.js.
VFS_SUITE_EXPORTS := vfs_suite_set_prefix vfs_suite_message vfs_suite_cleanup \
  vfs_test_register vfs_test_open vfs_test_open_temp vfs_test_write_read \
  vfs_test_short_read vfs_test_truncate vfs_test_file_size vfs_test_sync \
  vfs_test_delete vfs_test_access vfs_test_full_pathname vfs_test_randomness \
  vfs_test_current_time vfs_test_last_error vfs_test_locks vfs_test_sector_device \
  vfs_test_sql_wal_reopen vfs_test_sql_rollback_wal vfs_test_sql_rollback_journal \
  vfs_test_sql_temp_time_random malloc free
VFS_SUITE_OBJS := $(B)/wasm/third/sqlite3.o $(B)/wasm/vfs.o $(B)/wasm/storage_js.o
$(B)/test/vfs_suite.mjs: tests/wasm/vfs_suite.c src/storage.h $(VFS_SUITE_OBJS) js-glue/storage-library.js | check-emcc
	@mkdir -p $(@D)
	$(EMCC) $(WASM_FLAGS) $(OUR_WARN) $(SQLITE_DEFS) $(INCLUDES) \
	  -sMODULARIZE -sEXPORT_ES6 -sEXPORT_NAME=createVfsSuiteModule \
	  -sENVIRONMENT=web,worker -sFILESYSTEM=0 -sALLOW_MEMORY_GROWTH=1 \
	  -sEXPORTED_FUNCTIONS=$(subst $(space),$(comma),$(strip $(patsubst %,_%,$(VFS_SUITE_EXPORTS)))) \
	  -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8 \
	  --js-library js-glue/storage-library.js \
	  tests/wasm/vfs_suite.c $(VFS_SUITE_OBJS) -o $@

test-node: wasm $(WASM_TESTS) node_modules/.stamp
	$(NODE) --test --test-concurrency=2 tests/node/

# Browser suites share one machine's two cores with Chromium: one at a time.
test-e2e: wasm $(WASM_TESTS) node_modules/.stamp
	$(NODE) --test --test-concurrency=1 tests/e2e/

# The typed usage examples (tests/types) against types/, resolved through
# the package's own exports: as a bundler sees them, and as Node does.
test-types: node_modules/.stamp
	node_modules/.bin/tsc -p tests/types
	node_modules/.bin/tsc -p tests/types/tsconfig.node.json

test: setup
	$(MAKE) -j2 wasm native $(WASM_TESTS)
	$(MAKE) test-types
	$(MAKE) test-native
	$(MAKE) test-fuzz-replay
	$(MAKE) test-node
	$(MAKE) test-e2e

demo: setup wasm
	$(NODE) web/server.js

include mk/fuzz.mk mk/bench.mk

clean:
	rm -rf $(B)/wasm/*.o $(B)/native/*.o $(B)/asan/*.o $(B)/*/libhiroba.a $(B)/hiroba $(B)/hiroba-test $(B)/asan/test_* $(B)/asan/hostile_runner

distclean:
	rm -rf $(B) deps node_modules
