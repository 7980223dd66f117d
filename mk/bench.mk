# bench.mk -- `make bench`: every bench/*.bench.js, one process
# each, through bench/run.js, which prints each figure with its anchor and
# ratio, then the goal table, and writes both to test-output/bench/table.md.
# BENCH=name runs only the bench files whose name contains it
# (BENCH=a,b: contains either).
# Each part adds what it needs built to BENCH_PREREQS in its own mk file.

BENCH_PREREQS :=
-include $(wildcard mk/bench-*.mk)

.PHONY: bench
bench: setup
	$(MAKE) -j2 wasm native $(BENCH_PREREQS)
	$(NODE) bench/run.js $(BENCH)
