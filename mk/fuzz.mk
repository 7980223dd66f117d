# fuzz.mk -- libFuzzer targets. Included by the Makefile.
#
#   make fuzz              builds the three fuzz targets (tests/fuzz/) and
#                          runs each for FUZZ_SECONDS (default 60), one after
#                          the other, printing executions and coverage; fails
#                          when any target crashed (report and input under
#                          build/fuzz/). FUZZ_ARGS passes libFuzzer flags,
#                          e.g. FUZZ_ARGS=-use_value_profile=1.
#                          FUZZ_TARGETS="fuzz_merge" runs only some.
#   make fuzz-build        only builds them (build/fuzz/fuzz_*)
#   make test-fuzz-replay  replays the committed seeds and regressions through
#                          each target under ASan+UBSan, without libFuzzer
#                          (build/asan/replay_*): the fuzz part of make test
#   make fuzz-seeds        rewrites tests/fuzz/corpus/ (tests/fuzz/make-seeds.js)
#   make fuzz-clean        removes the fuzz objects and binaries (also part of
#                          make clean), keeping what the fuzzer found
#
# The `fuzz` flavour: our src/*.c with coverage instrumentation
# (-fsanitize=fuzzer-no-link) as well as ASan+UBSan, archived with the
# third-party objects of the asan flavour (build/asan/third/), which are
# not instrumented for coverage: the fuzzer steers by our code, and SQLite
# is not compiled a third time.

FUZZ_TARGETS ?= fuzz_merge fuzz_verify fuzz_negentropy
FUZZ_SECONDS ?= 60
FUZZ_ARGS ?=
FUZZ_FLAGS := -O1 -g -fno-omit-frame-pointer \
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_LINK_FLAGS := $(subst fuzzer-no-link,fuzzer,$(FUZZ_FLAGS))
FUZZ_ALL := fuzz_merge fuzz_verify fuzz_negentropy

.PHONY: fuzz fuzz-build fuzz-seeds test-fuzz-replay

# The flags our fuzz objects were built with, rewritten only when they
# change (SQLITE_DEFS too: sqlite3.h reads them), so a change rebuilds.
.PHONY: fuzz-flags
$(B)/fuzz/.flags: fuzz-flags
	@mkdir -p $(@D)
	@echo '$(CC) $(FUZZ_FLAGS) $(SQLITE_DEFS)' | cmp -s - $@ || echo '$(CC) $(FUZZ_FLAGS) $(SQLITE_DEFS)' > $@

$(B)/fuzz/%.o: src/%.c $(wildcard src/*.h) $(DEPS_STAMPS) $(B)/fuzz/.flags
	@mkdir -p $(@D)
	$(CC) $(FUZZ_FLAGS) $(OUR_WARN) $(SQLITE_DEFS) $(INCLUDES) -c $< -o $@

$(B)/fuzz/libhiroba.a: $(patsubst %,$(B)/fuzz/%.o,$(NATIVE_SRC)) $(patsubst %,$(B)/asan/third/%.o,$(THIRD))
	rm -f $@
	ar rcs $@ $^

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(B)/fuzz/libhiroba.a
	$(CC) $(FUZZ_LINK_FLAGS) $(OUR_WARN) $(INCLUDES) $< $(B)/fuzz/libhiroba.a -o $@

# The same targets with a plain main() instead of libFuzzer's, on the
# ASan+UBSan library that the native tests use.
$(B)/asan/replay_fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c tests/fuzz/fuzz.h $(B)/asan/libhiroba.a
	$(CC) $(ASAN_FLAGS) $(OUR_WARN) $(INCLUDES) tests/fuzz/replay_main.c $< $(B)/asan/libhiroba.a -o $@

fuzz-build: $(patsubst %,$(B)/fuzz/%,$(FUZZ_ALL))

# The small frames of the hostile corpus as extra seeds for fuzz_merge,
# generated (not committed: make test runs them all via hostile_runner).
$(B)/fuzz/seeds/fuzz_merge/.stamp: tests/corpus/hostile-frames.js tests/fuzz/make-seeds.js node_modules/.stamp
	$(NODE) tests/fuzz/make-seeds.js --hostile $(@D)
	@touch $@

# Every target runs even when one fails, so one run reports them all.
fuzz: fuzz-build $(B)/fuzz/seeds/fuzz_merge/.stamp
	@failed=""; for t in $(FUZZ_TARGETS); do \
	  tests/fuzz/run-fuzz.sh $(B) $$t $(FUZZ_SECONDS) $(FUZZ_ARGS) || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crashed:$$failed (see build/fuzz/crashes/)" >&2; exit 1; fi

fuzz-seeds: node_modules/.stamp
	$(NODE) tests/fuzz/make-seeds.js

test-fuzz-replay: $(patsubst %,$(B)/asan/replay_%,$(FUZZ_ALL))
	@set -e; for t in $(FUZZ_ALL); do \
	  regs=tests/fuzz/regressions/$$t; [ -d $$regs ] || regs=; \
	  ASAN_OPTIONS=detect_leaks=1 $(B)/asan/replay_$$t tests/fuzz/corpus/$$t $$regs; \
	done

# Our fuzz objects and binaries (build/fuzz/corpus, crashes and logs stay:
# they are the fuzzer's findings). make clean runs it too.
.PHONY: fuzz-clean
fuzz-clean:
	rm -rf $(B)/fuzz/*.o $(B)/fuzz/.flags $(B)/fuzz/libhiroba.a $(patsubst %,$(B)/fuzz/%,$(FUZZ_ALL)) \
	  $(patsubst %,$(B)/asan/replay_%,$(FUZZ_ALL)) $(B)/fuzz/seeds
clean: fuzz-clean
