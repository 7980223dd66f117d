# bench-opt.mk -- the builds bench/sqlite-opt.bench.js measures side by
# side with the shipped one: SQLite compiled for speed instead of size,
# and the link optimised harder. Each variant is the shipped module
# (build/hiroba/: for its size) and the raw-SQL program vfs_bench (for its
# speed) linked again, nothing else rebuilt; they land in
# build/test/opt/<variant>/, served as /test-build/opt/<variant>/.
#
# variant        SQLite object                   link
#   Os           -Os                             as shipped (WASM_FLAGS)
#   O2           -O2                             as shipped
#   O2-noinline  -O2 -fno-inline-functions       as shipped
#   link-O3      the shipped -Oz object          -O3
#   dlmalloc     the shipped -Oz object          as shipped, dlmalloc for emmalloc
# The shipped build itself is SQLite at WASM_SQLITE_FLAGS, linked with
# WASM_FLAGS (the Makefile says why).

OPT_DIR := $(B)/test/opt
OPT_SQLITE_Os := -Os
OPT_SQLITE_O2 := -O2
OPT_SQLITE_O2-noinline := -O2 -fno-inline-functions
OPT_LINK_link-O3 := $(subst -O2,-O3,$(WASM_FLAGS))
OPT_LINK_dlmalloc := $(subst emmalloc,dlmalloc,$(WASM_FLAGS))

# A SQLite object per compiled variant. Rebuilt when the shipped flavour's
# flags change (SQLITE_DEFS among them) or this file does.
$(OPT_DIR)/%/sqlite3.o: deps/sqlite/.stamp $(B)/wasm/.flags mk/bench-opt.mk | check-emcc
	@mkdir -p $(@D)
	$(EMCC) $(OPT_SQLITE_$*) -mbulk-memory $(SQLITE_DEFS) -Ideps/sqlite -c deps/sqlite/sqlite3.c -o $@

define opt_variant # name, SQLite object, link flags
$(eval $(call wasm_module,test/opt/$(1),$(SHIPPED_EXPORTS),$(2),$(3),mk/bench-opt.mk))
$(eval $(call vfs_bench,$(OPT_DIR)/$(1)/vfs_bench.mjs,$(2),$(3),mk/bench-opt.mk))
BENCH_PREREQS += $(OPT_DIR)/$(1)/hiroba.mjs $(OPT_DIR)/$(1)/vfs_bench.mjs
endef
$(foreach v,Os O2 O2-noinline,$(eval $(call opt_variant,$(v),$(OPT_DIR)/$(v)/sqlite3.o,$(WASM_FLAGS))))
$(foreach v,link-O3 dlmalloc,$(eval $(call opt_variant,$(v),$(B)/wasm/third/sqlite3.o,$(OPT_LINK_$(v)))))
