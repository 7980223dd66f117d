# fuzz.mk -- libFuzzer targets (issue 7). Included by the Makefile.
