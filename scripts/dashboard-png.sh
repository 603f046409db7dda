#!/usr/bin/env bash
# Renders docs/img/dashboard.png: the chart's Grafana dashboard drawn from real data,
# without Grafana. e2e's TestDashboardUnderLoad runs regions eu and us under load
# against the PostgreSQL and Kafka the e2e tests use (WALLET_TEST_PG_URL,
# KAFKA_BROKERS), while a real Prometheus (built from the Go module proxy at the version
# the chart tests use) scrapes them; every panel's PromQL is evaluated by that
# Prometheus, and scripts/dashboard_png.py only draws the answers (matplotlib, in a venv
# under .cache). WALLET_DASHBOARD_LOAD sets the load's length (default 3m).
set -euo pipefail
cd "$(dirname "$0")/.."
work=.cache/dashboard
mkdir -p "$work" docs/img
GOBIN="$PWD/$work/bin" go install github.com/prometheus/prometheus/cmd/prometheus@v0.316.0
if [ ! -x "$work/venv/bin/python" ]; then
	python3 -m venv "$work/venv"
	"$work/venv/bin/pip" install -q matplotlib==3.11.2
fi
WALLET_DASHBOARD_OUT="$PWD/$work" WALLET_PROMETHEUS="$PWD/$work/bin/prometheus" \
	go test -tags dashboard -count=1 -timeout 20m -run '^TestDashboardUnderLoad$' ./e2e/
"$work/venv/bin/python" scripts/dashboard_png.py "$work/dashboard.json" docs/img/dashboard.png
echo "wrote docs/img/dashboard.png"
