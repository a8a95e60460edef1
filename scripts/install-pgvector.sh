#!/usr/bin/env bash
# Installs pgvector for the local PostgreSQL server binaries on Debian.
# Debian 12 packages no pgvector for PostgreSQL 15, so it is built from Debian trixie's source
# package. A private apt config keeps the system's source lists intact.
set -euo pipefail

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
if [ -z "$PG_BIN" ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; then
  echo "install-pgvector: no PostgreSQL server binaries; installing Debian's postgresql"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
fi
if [ -z "$PG_BIN" ]; then
  echo "install-pgvector: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; install PostgreSQL (with pgvector) or set TEST_DATABASE_URL" >&2
  exit 1
fi
PG_MAJOR="$(basename "$(dirname "$PG_BIN")")"
SHAREDIR="$("$PG_BIN/pg_config" --sharedir 2>/dev/null || echo "/usr/share/postgresql/$PG_MAJOR")"
if [ -f "$SHAREDIR/extension/vector.control" ]; then
  echo "install-pgvector: pgvector already installed for PostgreSQL $PG_MAJOR"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ ! -f /etc/debian_version ]; then
  echo "install-pgvector: pgvector is missing for PostgreSQL $PG_MAJOR and this is not Debian." >&2
  echo "Install pgvector (https://github.com/pgvector/pgvector#installation) or set TEST_DATABASE_URL to a server that has it." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s "postgresql-server-dev-$PG_MAJOR" >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "postgresql-server-dev-$PG_MAJOR" dpkg-dev >/dev/null
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/src"
echo "deb-src http://deb.debian.org/debian trixie main" > "$WORK/sources.list"
APT_OPTS=(-o "Dir::Etc::sourcelist=$WORK/sources.list" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$WORK/lists" -o "APT::Get::List-Cleanup=0")
$SUDO apt-get "${APT_OPTS[@]}" update -qq
(cd "$WORK/src" && apt-get "${APT_OPTS[@]}" source --download-only -qq pgvector)
TARBALL="$(ls "$WORK"/src/pgvector_*.orig.tar.* | head -n 1)"
tar -xf "$TARBALL" -C "$WORK/src"
SRC_DIR="$(find "$WORK/src" -mindepth 1 -maxdepth 1 -type d -name 'pgvector*' | head -n 1)"
make -s -C "$SRC_DIR" PG_CONFIG="$PG_BIN/pg_config" -j"$(nproc)" >/dev/null
$SUDO make -s -C "$SRC_DIR" PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
echo "install-pgvector: installed pgvector for PostgreSQL $PG_MAJOR"
