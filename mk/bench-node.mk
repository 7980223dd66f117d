# bench-node.mk -- what the Node benchmarks need built natively
# (included by mk/bench.mk): bench/merge.bench.js compares the wasm engine
# with the same C built natively, and bench/lib/events.js signs its corpus
# with the engine's own crypto.c. Both link build/native/libhiroba.a with
# the native flavour's flags, as the C tests link theirs.

BENCH_NATIVE := $(B)/bench/merge_native $(B)/bench/sign_events
BENCH_PREREQS += $(BENCH_NATIVE)

$(BENCH_NATIVE): $(B)/bench/%: bench/native/%.c $(wildcard src/*.h) $(B)/native/libhiroba.a
	@mkdir -p $(@D)
	$(CC) $(NATIVE_FLAGS) $(OUR_WARN) $(INCLUDES) $< $(B)/native/libhiroba.a -o $@
