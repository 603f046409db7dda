package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/jackc/pgx/v5"

	"example.com/wallet/platform/kafkabus"
	"example.com/wallet/platform/linearize"
)

// check is one invariant and what the run showed of it.
type check struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
}

func (w *workload) pass(name, format string, a ...any) check {
	return check{Name: name, Passed: true, Detail: fmt.Sprintf(format, a...)}
}

func (w *workload) fail(name, format string, a ...any) check {
	return check{Name: name, Passed: false, Detail: fmt.Sprintf(format, a...)}
}

// quiesce waits until no transfer is pending on any shard, and returns how long that
// took and the transfer that took longest from creation to its end.
func (w *workload) quiesce(ctx context.Context, within time.Duration) (time.Duration, string, error) {
	start := time.Now()
	for {
		pending := 0
		for shard := range w.c.dbs {
			n, err := w.count(ctx, shard, `SELECT count(*) FROM transfers WHERE status = 'pending'`)
			if err != nil {
				return 0, "", err
			}
			pending += n
		}
		if pending == 0 {
			break
		}
		if time.Since(start) > within {
			return time.Since(start), "", fmt.Errorf("%d transfers still pending %s after the last fault", pending, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(start)
	longest, longestFor := "", 0.0
	for shard := range w.c.dbs {
		var id string
		var secs float64
		err := w.query(ctx, shard, func(conn *pgx.Conn) error {
			return conn.QueryRow(ctx, `SELECT id, extract(epoch FROM updated_at - created_at)::float8 FROM transfers ORDER BY updated_at - created_at DESC LIMIT 1`).Scan(&id, &secs)
		})
		if err == nil && secs > longestFor {
			longest, longestFor = fmt.Sprintf("%s (%.1f s)", id, secs), secs
		}
	}
	return took, longest, nil
}

func (w *workload) query(ctx context.Context, shard string, fn func(*pgx.Conn) error) error {
	conn, err := pgx.Connect(ctx, w.c.shardURL(shard))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return fn(conn)
}

func (w *workload) count(ctx context.Context, shard, sql string) (int, error) {
	var n int
	err := w.query(ctx, shard, func(conn *pgx.Conn) error { return conn.QueryRow(ctx, sql).Scan(&n) })
	return n, err
}

// verifyAll runs every check over the final state and the history.
func (w *workload) verifyAll(ctx context.Context) []check {
	var out []check
	out = append(out, w.checkConservation(ctx)...)
	out = append(out, w.checkLedgers(ctx))
	out = append(out, w.checkAudit(ctx))
	out = append(out, w.checkAcknowledged(ctx))
	out = append(out, w.checkRetries())
	out = append(out, w.checkRefunds(ctx))
	out = append(out, w.checkDeadLetters(ctx))
	out = append(out, w.checkLinearizable())
	out = append(out, w.checkNo500())
	return out
}

// keyed is everything a key's requests came to: its first call and the repeats sent
// with the same key and body. A key moves money at most once: it took effect if any
// of its calls was answered 201 (a refusal writes nothing and is not stored, so a
// repeat is judged afresh and may succeed once funds have arrived), and then between
// the first call and the first 201.
type keyed struct {
	first   *call
	calls   []*call
	applied *call // the first call answered 201, if any
}

func (w *workload) byKey() map[string]*keyed {
	out := map[string]*keyed{}
	for _, c := range w.calls {
		if c.key != "" {
			out[c.key] = &keyed{first: c, calls: []*call{c}}
		}
	}
	for key, again := range w.retries {
		if k := out[key]; k != nil {
			k.calls = append(k.calls, again...)
		}
	}
	for _, k := range out {
		for _, c := range k.calls {
			if c.status == http.StatusCreated && (k.applied == nil || c.end < k.applied.end) {
				k.applied = c
			}
		}
	}
	return out
}

// checkConservation: in each currency, the sum of every balance in both regions
// equals what was deposited (funding included) minus what was withdrawn, exactly;
// nothing is frozen at quiescence and no balance is negative.
func (w *workload) checkConservation(ctx context.Context) []check {
	const defaultCurrency = "EUR"
	want := map[string]*big.Int{defaultCurrency: new(big.Int), foreignCurrency: new(big.Int)}
	for _, amount := range w.funding {
		want[defaultCurrency].Add(want[defaultCurrency], big.NewInt(amount))
	}
	for _, amount := range w.foreignFunding {
		want[foreignCurrency].Add(want[foreignCurrency], big.NewInt(amount))
	}
	for _, k := range w.byKey() {
		cur := k.first.currency
		if cur == "" {
			cur = defaultCurrency
		}
		switch {
		case k.applied == nil:
		case k.first.op == "deposit":
			want[cur].Add(want[cur], big.NewInt(k.first.amount))
		case k.first.op == "withdraw":
			want[cur].Sub(want[cur], big.NewInt(k.first.amount))
		}
	}
	got := map[string]*big.Int{defaultCurrency: new(big.Int), foreignCurrency: new(big.Int)}
	frozen := new(big.Int)
	negative := 0
	for shard := range w.c.dbs {
		err := w.query(ctx, shard, func(conn *pgx.Conn) error {
			rows, err := conn.Query(ctx, `SELECT currency, coalesce(sum(balance),0)::text, coalesce(sum(frozen),0)::text, count(*) FILTER (WHERE balance < frozen)
				FROM balances GROUP BY currency`)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var cur, sum, fz string
				var neg int
				if err := rows.Scan(&cur, &sum, &fz, &neg); err != nil {
					return err
				}
				if got[cur] == nil {
					got[cur], want[cur] = new(big.Int), new(big.Int) // a currency the bank never used: must be 0
				}
				s, _ := new(big.Int).SetString(sum, 10)
				f, _ := new(big.Int).SetString(fz, 10)
				got[cur].Add(got[cur], s)
				frozen.Add(frozen, f)
				negative += neg
			}
			return rows.Err()
		})
		if err != nil {
			return []check{w.fail("conservation", "reading shard %s: %v", shard, err)}
		}
	}
	var out []check
	var held, wrong []string
	for _, cur := range slices.Sorted(maps.Keys(want)) {
		if got[cur].Cmp(want[cur]) == 0 {
			held = append(held, fmt.Sprintf("%s: all balances %s = deposits - withdrawals", cur, got[cur]))
		} else {
			wrong = append(wrong, fmt.Sprintf("%s: all balances %s, deposits - withdrawals %s: %s created or lost", cur, got[cur], want[cur], new(big.Int).Sub(got[cur], want[cur])))
		}
	}
	if len(wrong) == 0 {
		out = append(out, w.pass("conservation", "%s", strings.Join(held, "; ")))
	} else {
		out = append(out, w.fail("conservation", "%s; %s", strings.Join(wrong, "; "), w.explainMovements(ctx)))
	}
	if negative == 0 && frozen.Sign() == 0 {
		out = append(out, w.pass("no negative available, nothing frozen", "every available balance >= 0; frozen 0 at quiescence"))
	} else {
		out = append(out, w.fail("no negative available, nothing frozen", "%d users with available < 0; %s frozen at quiescence", negative, frozen))
	}
	return out
}

// explainMovements lists the keys on which the clients and the ledgers disagree:
// entries the clients do not believe happened, and the other way round.
func (w *workload) explainMovements(ctx context.Context) string {
	inLedger := map[string]string{} // key -> kind amount
	for shard := range w.c.dbs {
		_ = w.query(ctx, shard, func(conn *pgx.Conn) error {
			rows, err := conn.Query(ctx, `SELECT idempotency_key, kind, amount::text FROM ledger_entries WHERE idempotency_key LIKE 'chaos-%' AND idempotency_key NOT LIKE 'chaos-fund-%'`)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var key, kind, amount string
				if err := rows.Scan(&key, &kind, &amount); err == nil {
					inLedger[key] = kind + " " + amount
				}
			}
			return rows.Err()
		})
	}
	var diffs []string
	keys := w.byKey()
	for key, k := range keys {
		if k.first.op != "deposit" && k.first.op != "withdraw" {
			continue
		}
		_, there := inLedger[key]
		if there != (k.applied != nil) {
			var seen []string
			for _, c := range k.calls {
				seen = append(seen, fmt.Sprintf("%d %s", c.status, c.code))
			}
			diffs = append(diffs, fmt.Sprintf("%s %s %d: ledger %q, answers %v", key, k.first.op, k.first.amount, inLedger[key], seen))
		}
	}
	for key, e := range inLedger {
		if keys[key] == nil {
			diffs = append(diffs, fmt.Sprintf("%s: in the ledger (%s), never sent as a first call", key, e))
		}
	}
	if len(diffs) > 5 {
		diffs = diffs[:5]
	}
	return fmt.Sprintf("disagreements: %v", diffs)
}

// checkLedgers runs `wallet ledger verify` on both regions.
func (w *workload) checkLedgers(ctx context.Context) check {
	var problems []string
	for _, region := range chaosRegions {
		cmd := exec.CommandContext(ctx, w.c.bin, "ledger", "verify", "--region", region)
		cmd.Dir, cmd.Env = w.c.root, w.c.replicaOf(region).env
		out, err := cmd.CombinedOutput()
		if err != nil || bytes.Contains(out, []byte("DRIFT")) {
			problems = append(problems, fmt.Sprintf("%s: %v %s", region, err, strings.TrimSpace(string(out))))
		}
	}
	if len(problems) > 0 {
		return w.fail("ledger verify", "%s", strings.Join(problems, "; "))
	}
	return w.pass("ledger verify", "clean in both regions: every snapshot equals its entries, every chain verifies")
}

// checkAudit runs `wallet audit` over both regions at once, the operator's check of
// the books: conservation across every shard, every transfer reconciled between its
// sender and its receiver, every hold owned by a pending transfer.
func (w *workload) checkAudit(ctx context.Context) check {
	args := []string{"audit", "--json"}
	var envs [][]string
	for _, region := range chaosRegions {
		args = append(args, "--config", filepath.Join(w.c.root, "regions", region, "wallet.yaml"))
		envs = append(envs, w.c.replicaOf(region).env)
	}
	cmd := exec.CommandContext(ctx, w.c.bin, args...)
	cmd.Dir, cmd.Env = w.c.root, auditEnv(os.Environ(), envs...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		return w.fail("audit", "wallet audit did not run: %v", err)
	}
	return judgeAudit(code, stdout.Bytes(), stderr.Bytes())
}

// auditEnv is base plus the shard DSNs (the application role's, not the owner's) of
// every region's environment: one environment that reaches every shard, as an
// operator's would.
func auditEnv(base []string, regions ...[]string) []string {
	env := slices.Clone(base)
	for _, r := range regions {
		for _, kv := range r {
			if name, _, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(name, "WALLET_SHARDS__") && strings.HasSuffix(name, "__DSN") && !strings.HasSuffix(name, "__OWNER_DSN") {
				env = append(env, kv)
			}
		}
	}
	return env
}

// judgeAudit reads what `wallet audit --json` answered: passed only for exit 0 with a
// clean report; otherwise the detail names the discrepancies (the first ten) or why the
// audit could not tell.
func judgeAudit(code int, stdout, stderr []byte) check {
	const name = "audit"
	var report struct {
		Clean        bool `json:"clean"`
		Conservation []struct {
			Currency    string `json:"currency"`
			Balances    string `json:"balances"`
			InFlight    string `json:"in_flight"`
			Unexplained string `json:"unexplained"`
		} `json:"conservation"`
		Transfers struct {
			Total     int `json:"total"`
			Rechecked int `json:"rechecked"`
		} `json:"transfers"`
		Discrepancies []struct {
			Kind       string `json:"kind"`
			Region     string `json:"region"`
			Shard      string `json:"shard"`
			UserID     string `json:"user_id"`
			TransferID string `json:"transfer_id"`
			Detail     string `json:"detail"`
		} `json:"discrepancies"`
	}
	if err := json.Unmarshal(stdout, &report); err != nil {
		return check{Name: name, Detail: fmt.Sprintf("exit %d, no report (%v): %s", code, err, strings.TrimSpace(string(stderr)))}
	}
	var balances, inFlight, unexplained []string
	for _, c := range report.Conservation {
		balances = append(balances, c.Balances+" "+c.Currency)
		inFlight = append(inFlight, c.InFlight+" "+c.Currency)
		unexplained = append(unexplained, c.Unexplained+" "+c.Currency)
	}
	if code == 0 && report.Clean && len(report.Discrepancies) == 0 {
		return check{Name: name, Passed: true, Detail: fmt.Sprintf("clean across both regions: balances %s, in flight %s, %d transfers reconciled (%d re-checked)",
			strings.Join(balances, ", "), strings.Join(inFlight, ", "), report.Transfers.Total, report.Transfers.Rechecked)}
	}
	var lines []string
	for i, d := range report.Discrepancies {
		if i == 10 {
			lines = append(lines, fmt.Sprintf("and %d more", len(report.Discrepancies)-10))
			break
		}
		lines = append(lines, fmt.Sprintf("%s region=%s shard=%s user=%s transfer=%s: %s", d.Kind, d.Region, d.Shard, d.UserID, d.TransferID, d.Detail))
	}
	return check{Name: name, Detail: fmt.Sprintf("exit %d, %d discrepancies (unexplained %s): %s", code, len(report.Discrepancies), strings.Join(unexplained, ", "), strings.Join(lines, "; "))}
}

// checkAcknowledged: every acknowledged deposit and withdrawal has its entry with the
// acknowledged amount, and every acknowledged transfer exists with its amount and has
// ended.
func (w *workload) checkAcknowledged(ctx context.Context) check {
	type entry struct{ kind, amount string }
	entries := map[string]entry{} // user + key
	transfers := map[string][2]string{}
	for shard := range w.c.dbs {
		err := w.query(ctx, shard, func(conn *pgx.Conn) error {
			rows, err := conn.Query(ctx, `SELECT user_id, idempotency_key, kind, amount::text FROM ledger_entries WHERE idempotency_key IS NOT NULL`)
			if err != nil {
				return err
			}
			for rows.Next() {
				var user, key string
				var e entry
				if err := rows.Scan(&user, &key, &e.kind, &e.amount); err != nil {
					return err
				}
				entries[user+"/"+key] = e
			}
			rows.Close()
			rows, err = conn.Query(ctx, `SELECT id, amount::text, status FROM transfers`)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				var t [2]string
				if err := rows.Scan(&id, &t[0], &t[1]); err != nil {
					return err
				}
				transfers[id] = t
			}
			rows.Close()
			return rows.Err()
		})
		if err != nil {
			return w.fail("acknowledged writes present", "reading shard %s: %v", shard, err)
		}
	}
	acked, missing := 0, []string{}
	for _, k := range w.byKey() {
		c := k.applied
		if c == nil && k.first.movesBetweenUsers() && k.first.status == http.StatusAccepted {
			c = k.first
		}
		if c == nil {
			continue
		}
		switch c.op {
		case "deposit", "withdraw":
			acked++
			kind := map[string]string{"deposit": "deposit", "withdraw": "withdrawal"}[c.op]
			if e, ok := entries[c.user+"/"+c.key]; !ok || e.kind != kind || e.amount != strconv.FormatInt(c.amount, 10) {
				missing = append(missing, fmt.Sprintf("%s %s of %d (key %s): found %+v", c.op, c.user, c.amount, c.key, e))
			}
		case "transfer", "refund":
			acked++
			if t, ok := transfers[c.transferID]; !ok || t[0] != strconv.FormatInt(c.amount, 10) || t[1] == "pending" {
				missing = append(missing, fmt.Sprintf("%s %s of %d: found %v", c.op, c.transferID, c.amount, t))
			}
		}
	}
	if len(missing) > 0 {
		return w.fail("acknowledged writes present", "%d of %d missing or wrong, e.g. %s", len(missing), acked, missing[0])
	}
	return w.pass("acknowledged writes present", "all %d acknowledged writes found with their amounts; every acknowledged transfer ended", acked)
}

// checkRetries: a repeat of a key whose first answer was 201 answered the same bytes
// (a deposit or withdrawal) or the same transfer never in an older state than an
// earlier answer (a transfer); a key reused with another body was refused. A repeat
// of a refusal is judged afresh (refusals write nothing and are not stored).
func (w *workload) checkRetries() check {
	checked, problems := 0, []string{}
	for key, k := range w.byKey() {
		// Answers in the order they were given; each must agree with every 201 that
		// ended before it began.
		calls := slices.Clone(k.calls)
		slices.SortFunc(calls, func(a, b *call) int { return int(a.start - b.start) })
		var final *call // the first 201
		for _, a := range calls {
			if a.unknown() || a.status == http.StatusConflict {
				continue
			}
			if final != nil && a.start > final.end {
				checked++
				switch {
				case !a.movesBetweenUsers() && (a.status != final.status || !bytes.Equal(a.body, final.body)):
					problems = append(problems, fmt.Sprintf("%s: %d %s then %d %s", key, final.status, final.body, a.status, a.body))
				case a.movesBetweenUsers() && (a.transferID != final.transferID || a.status != http.StatusCreated):
					problems = append(problems, fmt.Sprintf("%s: transfer %s final, then %d %s", key, final.transferID, a.status, a.body))
				}
			}
			if final == nil && a.status == http.StatusCreated {
				final = a
			}
		}
		// A transfer's id never changes, final or not.
		for _, a := range calls {
			if a.movesBetweenUsers() && a.transferID != "" && k.first.transferID != "" && a.transferID != k.first.transferID {
				problems = append(problems, fmt.Sprintf("%s: transfer %s then %s", key, k.first.transferID, a.transferID))
			}
		}
	}
	for _, r := range w.reused {
		if r.unknown() {
			continue
		}
		checked++
		if r.status != http.StatusUnprocessableEntity && r.status != http.StatusConflict {
			problems = append(problems, fmt.Sprintf("key %s reused with another amount: %d %s", r.key, r.status, r.body))
		}
	}
	if len(problems) > 0 {
		return w.fail("retried keys", "%d inconsistent of %d, e.g. %s", len(problems), checked, problems[0])
	}
	return w.pass("retried keys", "%d repeats answered as their first answer; keys reused with another body refused", checked)
}

// checkDeadLetters: the dead-letter topics hold exactly the poison messages.
// checkRefunds: the refunds of a transfer that were not cancelled never add up to more
// than its amount, every refunded transfer completed, and no refund was refunded;
// refunds raced through both regions under faults, and every region's transfers are
// read from every shard.
func (w *workload) checkRefunds(ctx context.Context) check {
	type row struct {
		amount   *big.Int
		status   string
		refundOf string
	}
	transfers := map[string]row{}
	for shard := range w.c.dbs {
		err := w.query(ctx, shard, func(conn *pgx.Conn) error {
			rows, err := conn.Query(ctx, `SELECT id, amount::text, status, coalesce(refund_of, '') FROM transfers`)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id, amount string
				var r row
				if err := rows.Scan(&id, &amount, &r.status, &r.refundOf); err != nil {
					return err
				}
				r.amount, _ = new(big.Int).SetString(amount, 10)
				transfers[id] = r
			}
			return rows.Err()
		})
		if err != nil {
			return w.fail("refunds within their transfers", "reading shard %s: %v", shard, err)
		}
	}
	refunded := map[string]*big.Int{}
	refunds := 0
	var problems []string
	for id, r := range transfers {
		if r.refundOf == "" || r.status == "cancelled" {
			continue
		}
		refunds++
		original, ok := transfers[r.refundOf]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("refund %s of %s, which no shard holds", id, r.refundOf))
			continue
		case original.status != "completed" || original.refundOf != "":
			problems = append(problems, fmt.Sprintf("refund %s of %s, which is %s (refund of %q)", id, r.refundOf, original.status, original.refundOf))
		}
		if refunded[r.refundOf] == nil {
			refunded[r.refundOf] = new(big.Int)
		}
		refunded[r.refundOf].Add(refunded[r.refundOf], r.amount)
	}
	for id, sum := range refunded {
		if sum.Cmp(transfers[id].amount) > 0 {
			problems = append(problems, fmt.Sprintf("transfer %s of %s refunded %s", id, transfers[id].amount, sum))
		}
	}
	if len(problems) > 0 {
		return w.fail("refunds within their transfers", "%d problems, e.g. %s", len(problems), problems[0])
	}
	return w.pass("refunds within their transfers", "%d refunds of %d transfers, none past its transfer's amount", refunds, len(refunded))
}

func (w *workload) checkDeadLetters(ctx context.Context) check {
	var keys []string
	for _, region := range chaosRegions {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		msgs, err := kafkabus.ReadAll(rctx, []string{w.c.brokers}, w.c.cfg[region].TopicDLQ(region))
		cancel()
		if err != nil && !strings.Contains(err.Error(), "Unknown Topic") {
			return w.fail("dead letters", "reading %s: %v", region, err)
		}
		for _, m := range msgs {
			keys = append(keys, string(m.Key))
		}
	}
	var want []string
	for i := range w.poison {
		want = append(want, fmt.Sprint("poison-", i))
	}
	slices.Sort(keys)
	keys = slices.Compact(keys) // a poison message fetched twice around a crash may be dead-lettered twice
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		return w.fail("dead letters", "dead-letter topics hold %v, want exactly the poison %v", keys, want)
	}
	return w.pass("dead letters", "exactly the %d poison messages, nothing else", len(want))
}

// checkLinearizable checks each linear user's history against the model of one
// wallet with porcupine. All the calls of one key are one operation: it took effect
// (if any call was answered 201) between the first call and that answer, or it was
// refused; a write whose outcome stayed unknown was settled by retrying its key, so
// its interval runs to the answer that settled it. A read that got no answer is left
// out.
func (w *workload) checkLinearizable() check {
	byUser := map[string][]porcupine.Operation{}
	linear := map[string]bool{}
	for _, u := range w.linear {
		linear[u.id] = true
	}
	keys := w.byKey()
	for i, c := range w.calls {
		if !linear[c.user] {
			continue
		}
		op := porcupine.Operation{ClientId: i, Input: linearize.Op{Kind: c.op, Amount: c.amount}, Call: int64(c.start), Return: int64(c.end)}
		var res linearize.Result
		switch k := keys[c.key]; {
		case c.op == "read" && c.status == http.StatusOK:
			var b struct {
				Balance string `json:"balance"`
			}
			_ = json.Unmarshal(c.body, &b)
			res.Balance, _ = strconv.ParseInt(b.Balance, 10, 64)
		case c.op == "read":
			continue
		case k.applied != nil:
			res.OK, op.Return = true, int64(k.applied.end)
		case slices.ContainsFunc(k.calls, func(c *call) bool { return c.code == "insufficient_funds" }):
			// Refused every time it was tried, so never applied: the last refusal bounds it.
			op.Return = int64(slices.MaxFunc(k.calls, func(a, b *call) int { return int(a.end - b.end) }).end)
		default:
			continue // refused for another reason (none expected): no effect
		}
		op.Output = res
		byUser[c.user] = append(byUser[c.user], op)
	}
	ops := 0
	for user, history := range byUser {
		ops += len(history)
		if res := porcupine.CheckOperationsTimeout(linearize.Wallet(w.funding[user]), history, 60*time.Second); res != porcupine.Ok {
			return w.fail("linearizable", "user %s: %d operations are not linearizable (%v)", user, len(history), res)
		}
	}
	return w.pass("linearizable", "%d users, %d operations: each user's history is linearizable", len(byUser), ops)
}

// checkNo500: no request of the run was answered 500.
func (w *workload) checkNo500() check {
	n := 0
	for _, c := range w.allCalls() {
		if c.status == http.StatusInternalServerError {
			n++
		}
	}
	if n > 0 {
		return w.fail("no 500", "%d answers were 500", n)
	}
	return w.pass("no 500", "no answer was 500")
}

func (w *workload) allCalls() []*call {
	all := slices.Clone(w.calls)
	for _, rs := range w.retries {
		all = append(all, rs...)
	}
	return append(all, w.reused...)
}
