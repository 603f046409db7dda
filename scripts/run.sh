#!/usr/bin/env bash
# make run: PostgreSQL, Kafka, migrations, then regions eu (:8081) and us (:8082) as
# two wallet processes in the foreground. Ctrl-C stops both regions; PostgreSQL and
# Kafka keep running for the next `make run` (`make stack-down` stops them).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/postgres.sh up
scripts/kafka.sh up
scripts/local.sh databases
mkdir -p bin
go build -o bin/wallet ./cmd/wallet

pids=()
stop() {
	trap - INT TERM EXIT
	echo
	echo "stopping regions..."
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	wait || true
}
trap stop INT TERM EXIT

for region in eu us; do
	(
		set -a
		eval "$(scripts/local.sh env "$region")"
		set +a
		bin/wallet migrate up --region "$region" >&2
		exec bin/wallet serve --region "$region" >".cache/$region.log" 2>&1
	) &
	pids+=($!)
done

for url in http://127.0.0.1:8081 http://127.0.0.1:8082; do
	for _ in $(seq 1 150); do
		if curl -fs "$url/readyz" >/dev/null 2>&1; then break; fi
		for pid in "${pids[@]}"; do
			if ! kill -0 "$pid" 2>/dev/null; then
				echo "a region exited during start-up; see .cache/eu.log and .cache/us.log" >&2
				tail -n 5 .cache/eu.log .cache/us.log >&2 || true
				exit 1
			fi
		done
		sleep 0.2
	done
done

cat <<MSG

  region eu  http://127.0.0.1:8081   (metrics http://127.0.0.1:8091/metrics, log .cache/eu.log)
  region us  http://127.0.0.1:8082   (metrics http://127.0.0.1:8092/metrics, log .cache/us.log)

  Try:
    curl -s -X POST http://127.0.0.1:8081/v1/users -H 'Authorization: Bearer dev-token'
    make testdata

  Ctrl-C stops both regions.
MSG
wait
