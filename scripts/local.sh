#!/usr/bin/env bash
# Helpers for the local two-region stack.
#
#   scripts/local.sh databases          create the shard databases of regions eu and us
#   scripts/local.sh env REGION         print the WALLET_* variables a local REGION needs
#
# The shard databases live on the server `scripts/postgres.sh up` ensured, named
# ${WALLET_LOCAL_DB_PREFIX:-wallet_}<shard> (the benchmark's smoke test picks its own prefix).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL="$(scripts/postgres.sh url)"
REGIONS=(eu us)
DB_PREFIX="${WALLET_LOCAL_DB_PREFIX:-wallet_}"

# shard_url DB: the server's URL with its database replaced by DB.
shard_url() {
	local base="${PG_URL%%\?*}" query=""
	[[ "$PG_URL" == *\?* ]] && query="?${PG_URL#*\?}"
	echo "${base%/*}/$1${query}"
}

shards_of() {
	# Shard names are the keys under "shards:" in the region file.
	awk '/^shards:/{on=1;next} on&&/^[^ ]/{on=0} on&&/^  [a-z0-9]+:/{sub(":.*","",$1);print $1}' "regions/$1/wallet.yaml"
}

databases() {
	for region in "${REGIONS[@]}"; do
		for s in $(shards_of "$region"); do
			local db="${DB_PREFIX}$s"
			if ! psql "$PG_URL" -XAtqc "select 1 from pg_database where datname = '$db'" | grep -q 1; then
				psql "$PG_URL" -XAtqc "create database $db" >/dev/null
				echo "created database $db" >&2
			fi
		done
	done
}

# app_url URL: URL as the application role wallet_app when URL connects as wallet (our
# own cluster) and that role exists; otherwise URL itself (one role for both).
app_url() {
	if [[ "$1" == postgres://wallet:wallet@* ]] &&
		psql "$PG_URL" -XAtqc "select 1 from pg_roles where rolname = 'wallet_app'" 2>/dev/null | grep -q 1; then
		echo "postgres://wallet_app:wallet_app@${1#postgres://wallet:wallet@}"
	else
		echo "$1"
	fi
}

env_of() {
	local region="$1"
	for s in $(shards_of "$region"); do
		local owner
		owner="$(shard_url "${DB_PREFIX}$s")"
		# The server connects as the application role; migrations as the owner.
		echo "WALLET_SHARDS__${s^^}__DSN=$(app_url "$owner")"
		echo "WALLET_SHARDS__${s^^}__OWNER_DSN=$owner"
	done
	# The local stack's secrets only; production reads them from Secrets (docs/deploy.md).
	# The region's own secret signs TCC messages between its shards, the seal secret
	# keys the ledger's seals; the pair secret,
	# shared by eu and us alone, authenticates forwarded requests and signs the TCC
	# messages between them.
	local peer=us
	[ "$region" = us ] && peer=eu
	echo "WALLET_AUTH__REGION_SECRET=local-${region}-region-secret-not-for-production"
	echo "WALLET_AUTH__LEDGER_SEAL_SECRET=local-${region}-ledger-seal-secret-not-for-production"
	echo "WALLET_PEERS__${peer^^}__SECRET=local-eu-us-pair-secret-not-for-production"
	if [ -n "${KAFKA_BROKERS:-}" ]; then
		echo "WALLET_KAFKA__BROKERS=$KAFKA_BROKERS"
	fi
}

case "${1:-}" in
databases) databases ;;
env) env_of "${2:?region}" ;;
*)
	echo "usage: $0 databases | env REGION" >&2
	exit 2
	;;
esac
