# bench-browser.mk -- what the three browser benchmarks need
# built beyond `make wasm` (bench/opfs-writes, bench/datachannel,
# bench/size-startup): the raw-SQL wasm program bench/wasm/vfs_bench.c,
# which runs SQLite on our VFS without the engine. It is built like the
# VFS suite (the Makefile's WASM_TESTS rule): same flags, the same cached
# SQLite object, vfs.o and storage_js.o, so it tracks WASM_FLAGS. It lands
# in build/test/, which the browser harness serves as /test-build/.

VFS_BENCH_EXPORTS := vfs_bench_open vfs_bench_exec vfs_bench_result \
  vfs_bench_errmsg vfs_bench_close malloc free

# The program, linked from the given SQLite object with the given flags
# (bench-opt.mk links it from SQLite built otherwise).
VFS_BENCH_OBJS := $(B)/wasm/vfs.o $(B)/wasm/storage_js.o
define vfs_bench # output, SQLite object, link flags, prerequisites
$(1): bench/wasm/vfs_bench.c src/storage.h $(2) $(VFS_BENCH_OBJS) js-glue/storage-library.js $(4) | check-emcc
	@mkdir -p $$(@D)
	$(EMCC) $(3) $(OUR_WARN) $(SQLITE_DEFS) $(INCLUDES) \
	  -sMODULARIZE -sEXPORT_ES6 -sEXPORT_NAME=createVfsBenchModule \
	  -sENVIRONMENT=web,worker -sFILESYSTEM=0 -sALLOW_MEMORY_GROWTH=1 \
	  -sEXPORTED_FUNCTIONS=$(subst $(space),$(comma),$(strip $(patsubst %,_%,$(VFS_BENCH_EXPORTS)))) \
	  -sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8 \
	  --js-library js-glue/storage-library.js \
	  bench/wasm/vfs_bench.c $(2) $(VFS_BENCH_OBJS) -o $$@
endef
$(eval $(call vfs_bench,$(B)/test/vfs_bench.mjs,$(B)/wasm/third/sqlite3.o,$(WASM_FLAGS)))

BENCH_PREREQS += $(B)/test/vfs_bench.mjs
