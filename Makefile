# The wallet's developer commands. Two matter on a fresh machine:
#   make run    bring up PostgreSQL, Kafka and regions eu and us locally
#   make test   bring up what the tests need and run every test
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Development tools (sqlc, golangci-lint) are pinned in tools/go.mod, apart from the
# service's own dependencies; `go tool` builds each once and caches it.
TOOL := go tool -modfile=tools/go.mod

.PHONY: help run test build generate check-generated lint fuzz testdata stack-up stack-down bench bench-micro chaos

help:
	@echo "make run               two regions locally: eu on :8081, us on :8082"
	@echo "make test              unit, integration and e2e tests on real PostgreSQL and Kafka"
	@echo "make generate          regenerate sqlc code"
	@echo "make check-generated   fail when committed sqlc code is stale"
	@echo "make lint              golangci-lint (its version is in tools/go.mod)"
	@echo "make fuzz              fuzz each target for FUZZTIME (default 30s)"
	@echo "make testdata          users and deposits in a running 'make run' stack"
	@echo "make bench             walletbench: the wallet against pgbench, a hot row and Kafka, in one run"
	@echo "make chaos             the bank under injected faults, every invariant checked (CHAOS_DURATION, CHAOS_SEED)"
	@echo "make audit             do the books of the 'make run' stack add up? (AUDIT_FLAGS, e.g. --json)"
	@echo "make stack-down        stop the local Kafka broker and PostgreSQL cluster"

run:
	@scripts/run.sh

test:
	@scripts/test.sh

build:
	go build -o bin/wallet ./cmd/wallet

generate:
	$(TOOL) sqlc generate

check-generated: generate
	@if [ -n "$$(git status --porcelain -- modules platform sql)" ]; then \
		echo "generated sqlc code is stale: run 'make generate' and commit the result"; \
		git status --porcelain -- modules platform sql; git diff --stat -- modules platform; exit 1; fi

lint:
	$(TOOL) golangci-lint run ./...
	cd helm && go tool -modfile=../tools/go.mod golangci-lint run ./...

FUZZTIME ?= 30s
fuzz:
	go test ./platform/money/ -run '^$$' -fuzz FuzzParsePositive -fuzztime $(FUZZTIME)
	go test ./platform/httpapi/ -run '^$$' -fuzz FuzzDecodeJSON -fuzztime $(FUZZTIME)
	go test ./platform/metadata/ -run '^$$' -fuzz FuzzCanonicalRoundTrips -fuzztime $(FUZZTIME)

testdata:
	@scripts/testdata.sh

stack-up:
	@scripts/postgres.sh up && scripts/kafka.sh up

stack-down:
	@scripts/kafka.sh down; scripts/postgres.sh down

# BENCH_FLAGS are walletbench's flags, e.g. BENCH_FLAGS="--clients 32 --duration 30s".
bench: stack-up
	go run ./cmd/walletbench $(BENCH_FLAGS)

# The long chaos profile: at least ten minutes of faults (CHAOS_DURATION), replayable
# with CHAOS_SEED. The short profile runs in make test.
CHAOS_DURATION ?= 10m
CHAOS_SEED ?= 0
chaos: stack-up
	go run ./cmd/walletchaos --profile long --duration $(CHAOS_DURATION) --seed $(CHAOS_SEED)

# The ledger's Go micro-benchmark of balance reads against short and long histories.
bench-micro: stack-up
	WALLET_TEST_PG_URL=$$(scripts/postgres.sh url) go test ./modules/ledger/ -run '^$$' -bench . -benchtime 2000x -count 3

# The audit of the local two-region stack of `make run`: every shard of eu and us read
# at once, with the shard DSNs scripts/local.sh gives each region (no secret needed).
# AUDIT_FLAGS are the audit's flags, e.g. AUDIT_FLAGS="--json --pending-older-than 1m".
.PHONY: audit
audit:
	@mkdir -p bin && go build -o bin/wallet ./cmd/wallet
	@set -euo pipefail; set -a; \
	eval "$$(scripts/local.sh env eu | grep '^WALLET_SHARDS__')"; \
	eval "$$(scripts/local.sh env us | grep '^WALLET_SHARDS__')"; \
	set +a; \
	bin/wallet audit --config regions/eu/wallet.yaml --config regions/us/wallet.yaml $(AUDIT_FLAGS)
