#!/usr/bin/env bash
# make testdata: users with deposits in euros and dollars in both regions of a running
# `make run` stack.
set -euo pipefail
EU=${EU_URL:-http://127.0.0.1:8081}
US=${US_URL:-http://127.0.0.1:8082}
AUTH="Authorization: Bearer ${WALLET_TOKEN:-dev-token}"

for url in "$EU" "$US"; do
	curl -fs "$url/readyz" >/dev/null || { echo "no wallet at $url: start it with 'make run'" >&2; exit 1; }
done

json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

ids=()
for region in eu eu eu us us us; do
	id=$(curl -fs -X POST "$EU/v1/users" -H "$AUTH" -H 'Content-Type: application/json' \
		-d "{\"region\":\"$region\"}" | json_field id)
	amount=$((RANDOM % 9000 + 1000))
	curl -fs -X POST "$EU/v1/users/$id/deposits" -H "$AUTH" -H "Idempotency-Key: testdata-$id" \
		-H 'Content-Type: application/json' -d "{\"amount\":\"$amount\",\"metadata\":{\"source\":\"testdata\"}}" >/dev/null
	dollars=$((RANDOM % 5000 + 500))
	curl -fs -X POST "$EU/v1/users/$id/deposits" -H "$AUTH" -H "Idempotency-Key: testdata-usd-$id" \
		-H 'Content-Type: application/json' -d "{\"amount\":\"$dollars\",\"currency\":\"USD\"}" >/dev/null
	echo "$region user $id deposited $amount EUR and $dollars USD"
	ids+=("$id")
done

cat <<MSG

Any region answers for any user:
  curl -s $US/v1/users/${ids[0]}/balance -H '$AUTH'
  curl -s $EU/v1/users/${ids[3]}/ledger -H '$AUTH'
  curl -s -X POST $EU/v1/users/${ids[0]}/withdrawals -H '$AUTH' -H 'Idempotency-Key: w-1' -d '{"amount":"10"}'

Every balance of a user, one per currency:
  curl -s $EU/v1/users/${ids[0]}/balances -H '$AUTH'
Dollars from eu to us, and a batch:
  curl -s -X POST $EU/v1/transfers -H '$AUTH' -H 'Idempotency-Key: t-usd-1' -H 'Prefer: wait=10' -d '{"from_user_id":"${ids[0]}","to_user_id":"${ids[3]}","amount":"250","currency":"USD"}'
  curl -s -X POST $EU/v1/batches -H '$AUTH' -d '{"items":[{"kind":"deposit","user_id":"${ids[1]}","amount":"5","idempotency_key":"b-1"},{"kind":"withdrawal","user_id":"${ids[1]}","amount":"5","idempotency_key":"b-2"}]}'
MSG
