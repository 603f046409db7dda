#!/usr/bin/env bash
# make test: bring up PostgreSQL and Kafka, then run every test.
#
# Unit and integration packages run first, in parallel, under the race detector; the
# e2e package (schemathesis against two regions among its tests) and then the chaos
# suite run last and alone, because they stop and restart the broker.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/postgres.sh up
# The tests drive their own broker (stop/start): an external KAFKA_BROKERS is not used.
env -u KAFKA_BROKERS scripts/kafka.sh up

export WALLET_TEST_PG_URL="$(scripts/postgres.sh url)"
export KAFKA_BROKERS="127.0.0.1:${KAFKA_PORT:-9092}"
# The broker's TLS + SCRAM listener and the local CA that signed its certificate.
export KAFKA_SECURE_BROKERS="127.0.0.1:${KAFKA_SECURE_PORT:-9094}"
export KAFKA_CA_FILE="$PWD/.cache/kafka/tls/ca.pem"
# The pinned schemathesis for e2e's TestSchemathesis (installed on first use; a
# failed install stops here, not as a skipped test).
WALLET_SCHEMATHESIS="$(scripts/schemathesis.sh path)"
export WALLET_SCHEMATHESIS

# Unit and integration packages under the race detector; the e2e and chaos packages
# drive whole processes (built without it) and run alone, last.
packages=$(go list ./... | grep -v -e '/e2e$' -e '/cmd/walletchaos$')
go test -race -count=1 -timeout 15m $packages
# The chart's tests are a module of their own (helm/go.mod): the Helm SDK and the
# Kubernetes API types stay out of the service's dependency graph.
# They check the chart's alert rules and dashboard with promtool, built from the Go
# module proxy (the version is helm/monitoring_test.go's promtoolPkg): built here first,
# outside the tests' timeout, because a machine's first build of it takes minutes.
(cd helm && go run "$(sed -n 's/^const promtoolPkg = "\(.*\)"$/\1/p' monitoring_test.go)" --version >/dev/null)
(cd helm && go test -count=1 -timeout 5m ./...)
go test -count=1 -timeout 14m ./e2e/
# The chaos suite's short profile: faults injected into two replicas per region, every
# invariant checked (make chaos runs the long one).
go test -count=1 -timeout 10m ./cmd/walletchaos/
