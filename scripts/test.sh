#!/usr/bin/env bash
# make test: bring up PostgreSQL and Kafka, then run every test.
#
# Unit and integration packages run first, in parallel; the e2e package runs last and
# alone, because one of its tests stops and restarts the broker.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/postgres.sh up
# The tests drive their own broker (stop/start): an external KAFKA_BROKERS is not used.
env -u KAFKA_BROKERS scripts/kafka.sh up

export WALLET_TEST_PG_URL="$(scripts/postgres.sh url)"
export KAFKA_BROKERS="127.0.0.1:${KAFKA_PORT:-9092}"

packages=$(go list ./... | grep -v '/e2e$')
go test -count=1 -timeout 10m $packages
go test -count=1 -timeout 12m ./e2e/
