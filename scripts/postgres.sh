#!/usr/bin/env bash
# PostgreSQL for local runs and tests.
#
#   scripts/postgres.sh up       ensure a server answers at $WALLET_PG_URL, or create one
#   scripts/postgres.sh url      print the URL of the server `up` ensured
#   scripts/postgres.sh down     stop the cluster `up` created (never a server it found)
#   scripts/postgres.sh crash    restart that cluster with -m immediate, as a crash would
#                                (for the chaos suite; never a server it found)
#
# WALLET_PG_CLUSTER (default wallet) and WALLET_PG_PORT name another cluster, and
# WALLET_PG_FSYNC=on makes a new one durable against machine crashes too: the chaos
# suite runs its own cluster that way, so restarting it disturbs nothing else.
#
# When WALLET_PG_URL answers, it is used as it is. Otherwise Debian's postgresql
# package is installed if absent and a dedicated cluster named "wallet" is created on
# port ${WALLET_PG_PORT:-5433} (so a laptop's own server on 5432 is left alone), with a
# login role "wallet" that may create databases but is not a superuser (it owns the
# shards' tables and runs migrations), and a login role "wallet_app" for the server,
# which may read and append to the ledger but not rewrite it.
set -euo pipefail

PORT="${WALLET_PG_PORT:-5433}"
CLUSTER="${WALLET_PG_CLUSTER:-wallet}"
FSYNC="${WALLET_PG_FSYNC:-off}"
DEFAULT_URL="postgres://wallet:wallet@127.0.0.1:${PORT}/postgres?sslmode=disable"

answers() {
	PGCONNECT_TIMEOUT=3 psql "$1" -XAtqc 'select 1' >/dev/null 2>&1
}

pg_version() {
	ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1
}

install_postgres() {
	if [ -z "$(pg_version)" ] || ! command -v pg_createcluster >/dev/null; then
		echo "postgres: installing Debian's postgresql package" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq postgresql postgresql-contrib >/dev/null
	fi
}

# ensure_roles creates the owner and application roles in our cluster (as postgres).
ensure_roles() {
	su postgres -c "psql -XAtq -p $PORT" >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wallet') THEN
    CREATE ROLE wallet LOGIN CREATEDB PASSWORD 'wallet';
  END IF;
  -- The server's role: migrations (as wallet, the owner) grant it what it needs.
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wallet_app') THEN
    CREATE ROLE wallet_app LOGIN PASSWORD 'wallet_app';
  END IF;
END \$\$;
SQL
}

up() {
	if [ -n "${WALLET_PG_URL:-}" ] && answers "$WALLET_PG_URL"; then
		echo "postgres: using WALLET_PG_URL" >&2
		return
	fi
	if answers "$DEFAULT_URL"; then
		# Our cluster, already running: make sure a role added since exists too.
		if [ "$(id -u)" = 0 ] && pg_lsclusters -h 2>/dev/null | awk '{print $2}' | grep -qx "$CLUSTER"; then
			ensure_roles
		fi
		return
	fi
	install_postgres
	local version
	version="$(pg_version)"
	if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version $CLUSTER"; then
		echo "postgres: creating cluster $version/$CLUSTER on port $PORT" >&2
		# Debian's installer may have auto-started a "main" cluster; ours is separate.
		pg_createcluster "$version" "$CLUSTER" --port "$PORT" -- --auth-local=peer --auth-host=scram-sha-256 >/dev/null
		local conf="/etc/postgresql/$version/$CLUSTER/conf.d/wallet.conf"
		cat >"$conf" <<CONF
# Written by scripts/postgres.sh for local runs and tests.
listen_addresses = '127.0.0.1'
max_connections = 400
shared_buffers = 256MB
# fsync off only loses data when the machine itself crashes; the tests crash processes
# (PostgreSQL's included), never the machine, and acknowledged commits still survive.
# The chaos suite's cluster keeps fsync on.
fsync = $FSYNC
full_page_writes = $FSYNC
CONF
	fi
	pg_ctlcluster "$version" "$CLUSTER" start 2>/dev/null || pg_ctlcluster "$version" "$CLUSTER" status >/dev/null
	for _ in $(seq 1 60); do
		if su postgres -c "psql -XAtq -p $PORT -c 'select 1'" >/dev/null 2>&1; then break; fi
		sleep 0.5
	done
	ensure_roles
	if ! answers "$DEFAULT_URL"; then
		echo "postgres: cluster $version/$CLUSTER does not answer at $DEFAULT_URL" >&2
		exit 1
	fi
}

url() {
	if [ -n "${WALLET_PG_URL:-}" ] && answers "$WALLET_PG_URL"; then
		echo "$WALLET_PG_URL"
	else
		echo "$DEFAULT_URL"
	fi
}

down() {
	local version
	version="$(pg_version)"
	if [ -n "$version" ] && pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$version $CLUSTER"; then
		pg_ctlcluster "$version" "$CLUSTER" stop || true
	fi
}

crash() {
	local version
	version="$(pg_version)"
	pg_ctlcluster "$version" "$CLUSTER" restart -m immediate
}

case "${1:-}" in
up) up ;;
crash) crash ;;
url) url ;;
down) down ;;
*)
	echo "usage: $0 up|url|down|crash" >&2
	exit 2
	;;
esac
