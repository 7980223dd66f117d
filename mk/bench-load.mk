# bench-load.mk -- the load figures (bench/load-*.bench.js):
# the native event generator and loader that build the cached 1,000,000-
# event database (build/bench/load/) the wasm engine is measured on.
# Included by mk/bench.mk.

LOAD_TOOLS := $(B)/bench/load/gen_events $(B)/bench/load/load_events
BENCH_PREREQS += $(LOAD_TOOLS)

$(LOAD_TOOLS): $(B)/bench/load/%: bench/native/%.c $(wildcard src/*.h) $(B)/native/libhiroba.a
	@mkdir -p $(@D)
	$(CC) $(NATIVE_FLAGS) $(OUR_WARN) $(INCLUDES) $< $(B)/native/libhiroba.a -lm -o $@
