#!/usr/bin/env bash
# Fetches the pinned third-party C sources into deps/ (git-ignored) and
# checks each download against its SHA-256 before unpacking it. Nothing
# third-party is ever committed. Sources come only from the npm registry
# (the SQLite amalgamation inside better-sqlite3's tarball) and Debian's
# source archive (cJSON, libsecp256k1, with Debian's patches applied).
#
# Re-running is cheap: a dependency whose folder holds a matching stamp is
# skipped. Bumping a version means changing its line below, checksum too.
set -euo pipefail
cd "$(dirname "$0")/.."

SQLITE_NPM=better-sqlite3@12.11.1     # carries SQLite 3.53.2
SQLITE_SHA256=ebf0ed75a7a59dbcb3b24bbd014ef49d9f15bc328e4adcbf516f2a8fadfa2835
CJSON_DEB=cjson=1.7.15-1+deb12u4
CJSON_DSC_SHA256=764c2de141d680f4fb4cada30c526dacaa30ead061b9b9c34f2b81e2df0f8439
SECP_DEB=libsecp256k1=0.2.0-2
SECP_DSC_SHA256=55ed1f5eda774001ef2e1002e43492a7107754ba03a6f329b4b72daba60c89ce

mkdir -p deps/cache
cache=deps/cache

check() { # file expected-sha256
  local got; got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$2" != "$got" ]; then
    echo "fetch-deps: checksum mismatch for $1: expected $2, got $got" >&2
    exit 1
  fi
}

stamp_ok() { [ -f "deps/$1/.stamp" ] && [ "$(cat "deps/$1/.stamp")" = "$2" ]; }

# --- SQLite amalgamation, from the npm tarball of better-sqlite3 ---
if ! stamp_ok sqlite "$SQLITE_NPM $SQLITE_SHA256"; then
  tgz=$cache/${SQLITE_NPM/@/-}.tgz
  if [ ! -f "$tgz" ]; then
    (cd "$cache" && npm pack --silent "$SQLITE_NPM" >/dev/null)
    mv "$cache/$(basename "${SQLITE_NPM%@*}")-${SQLITE_NPM#*@}.tgz" "$tgz" 2>/dev/null || true
  fi
  check "$tgz" "$SQLITE_SHA256"
  rm -rf deps/sqlite && mkdir -p deps/sqlite
  tar -xzf "$tgz" -C deps/sqlite --strip-components=3 \
      package/deps/sqlite3/sqlite3.c package/deps/sqlite3/sqlite3.h
  echo "$SQLITE_NPM $SQLITE_SHA256" > deps/sqlite/.stamp
fi

# --- Debian source packages (cJSON, libsecp256k1) ---
ensure_deb_src() {
  if ! apt-get source --download-only --print-uris "$1" >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
      echo "fetch-deps: apt has no deb-src entry; run as root once" >&2; exit 1
    fi
    # The same mirror and suites the machine already uses for binaries.
    cat > /etc/apt/sources.list.d/hiroba-deb-src.sources <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt-get update -q >/dev/null
  fi
}

fetch_deb() { # name=version dsc-sha256 dest
  local spec=$1 sum=$2 dest=$3 name=${1%%=*} ver=${1#*=}
  stamp_ok "$dest" "$spec $sum" && return 0
  local upver=${ver%-*} dsc="$cache/${name}_${ver#*:}.dsc"
  if [ ! -f "$dsc" ]; then
    ensure_deb_src "$spec"
    (cd "$cache" && apt-get source --download-only -qq "$spec" >/dev/null 2>&1) || true
    [ -f "$dsc" ] || { echo "fetch-deps: could not download the source of $spec" >&2; exit 1; }
  fi
  check "$dsc" "$sum"
  # dpkg-source checks every file the .dsc lists against its checksums,
  # so one verified .dsc pins the whole source package.
  rm -rf "deps/$dest" "$cache/$name-$upver"
  (cd "$cache" && dpkg-source -x "$(basename "$dsc")" "$name-$upver" >/dev/null 2>&1)
  mv "$cache/$name-$upver" "deps/$dest"
  echo "$spec $sum" > "deps/$dest/.stamp"
}

fetch_deb "$CJSON_DEB" "$CJSON_DSC_SHA256" cjson
fetch_deb "$SECP_DEB" "$SECP_DSC_SHA256" secp256k1
