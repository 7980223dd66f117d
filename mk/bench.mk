# bench.mk -- benchmarks and load figures (issue 7). Included by the Makefile.
