#!/usr/bin/env bash
# Installs the system packages Hiroba's build and tests need, from Debian's
# archive, only where they are missing (a warm machine does nothing here).
# Called by `make setup` (and so by `make test` and `make demo`).
set -euo pipefail

need=()
command -v emcc   >/dev/null 2>&1 || need+=(emscripten)
command -v clang  >/dev/null 2>&1 || need+=(clang)
command -v dpkg-source >/dev/null 2>&1 || need+=(dpkg-dev)
# Headless browser tests drive Debian's chromium and firefox-esr (never
# downloaded ones).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
command -v turnserver >/dev/null 2>&1 || need+=(coturn)
# clang's sanitizer and libFuzzer runtimes for the native test build.
dpkg -s libclang-rt-14-dev >/dev/null 2>&1 || need+=(libclang-rt-14-dev)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing ${need[*]}; run as root or install them with apt-get" >&2
    exit 1
  fi
  echo "setup: installing ${need[*]} from Debian"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
