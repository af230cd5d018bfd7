#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer on 127.0.0.1 (starts them when installed but stopped,
# installs them from Debian's packages when missing) and that Debian's Chromium is there for the
# browser tests. Safe to run repeatedly.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

wait_for() {  # wait_for <what> <command...>
  local what=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "services: $what did not come up" >&2; return 1
}

# --- PostgreSQL -------------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "services: installing PostgreSQL"
  apt_install postgresql
  fresh_pg=1
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432 -q
fi
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
  # a freshly installed cluster asks for passwords on TCP; the tests use trust on loopback only
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  wait_for "PostgreSQL (trust on loopback)" psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1'
fi

# --- Redis ------------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1; then
  echo "services: installing Redis"
  apt_install redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
fi
# --- Chromium for the browser tests (Playwright's own download cannot work offline) --------
if [ ! -x /usr/bin/chromium ]; then
  echo "services: installing Chromium and CJK fonts"
  apt_install chromium fonts-noto-cjk
fi
# --- what the papers need: Chinese fonts for WeasyPrint, poppler's tools for the tests that read the PDFs ----
bash "$(dirname "$0")/../deploy/papers-packages.sh" --with-poppler
echo "services: PostgreSQL, Redis, Chromium, the CJK fonts and poppler are ready"
