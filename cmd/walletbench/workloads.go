package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/pgdb"
)

// workload is one measured scenario.
type workload struct {
	name string
	what string
	// clients overrides the benchmark's client count (the one-client latency run).
	clients int
	// closedOnly: never driven as an open loop, even with --rate.
	closedOnly bool
	// async: the operation only starts a transfer; the workload's throughput and
	// latency are those of transfers completed, read from the sender's shard.
	async bool
	// items is how many operations of the wallet one successful call carries (a
	// batch's items); 0 means one. Throughput counts items, latency is per call.
	items int
	op    operation
}

// workloadNames lists every workload in the order they run. Transfers across shards
// and regions run last: each leaves a backlog that must drain before the next starts.
func workloadNames() []string {
	return []string{"deposit", "withdrawal", "transfer_same_shard", "hot_account", "idempotent_replay", "batch_deposit",
		"balance_small", "balance_large", "transfer_cross_shard", "transfer_cross_region", "transfer_cross_shard_1client"}
}

func isWorkload(name string) bool { return slices.Contains(workloadNames(), name) }

// usersPerShard is how many users each shard of each region gets for the workloads
// that spread over users.
const usersPerShard = 32

// smallHistory is the length of the balance_small user's ledger.
const smallHistory = 100

// bench is the prepared benchmark: users placed on known shards and funded, the long
// and short histories built, keys to replay.
type bench struct {
	o      options
	s      *stack
	client *http.Client
	runID  string
	entry  *region // every request enters through this region
	// users maps a shard name (of either region) to users living on it.
	users  map[string][]string
	hot    string
	small  string
	large  string
	replay []replayable
	// shards are pools on the entry region's shards, for reading transfer outcomes.
	shards map[string]*pgdb.Shard
	log    func(string, ...any)
}

// replayable is a deposit already answered, to be sent again with its key.
type replayable struct {
	user, key string
}

func newBench(ctx context.Context, o options, s *stack, log func(string, ...any)) (*bench, error) {
	var id [6]byte
	_, _ = rand.Read(id[:])
	b := &bench{
		o: o, s: s, runID: hex.EncodeToString(id[:]), entry: s.regions[benchRegions[0]], users: map[string][]string{}, log: log,
		client: &http.Client{
			Timeout: 60 * time.Second,
			Transport: &http.Transport{
				MaxIdleConns: 4 * maxOpenLoopWorkers, MaxIdleConnsPerHost: 2 * maxOpenLoopWorkers,
				IdleConnTimeout: 90 * time.Second, DisableCompression: true,
			},
		},
	}
	var err error
	if b.shards, err = pgdb.Open(ctx, b.entry.cfg.ShardList); err != nil {
		return nil, err
	}
	log("preparing users (%d per shard), funds and histories", usersPerShard)
	if err := b.prepareUsers(ctx); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *bench) close() { pgdb.Close(b.shards) }

// prepareUsers creates (or finds again: user creates are idempotent) the workloads'
// users, funds them for this run, builds the two histories and answers the deposits
// that idempotent_replay will repeat.
func (b *bench) prepareUsers(ctx context.Context) error {
	for _, name := range benchRegions {
		r := b.s.regions[name]
		for i := 0; ; i++ {
			full := true
			for _, sh := range r.router.Shards() {
				if len(b.users[sh]) < usersPerShard {
					full = false
				}
			}
			if full {
				break
			}
			id, err := b.createUser(ctx, r, fmt.Sprintf("walletbench-user-%s-%d", name, i))
			if err != nil {
				return err
			}
			sh := r.router.ShardOf(id)
			if len(b.users[sh]) < usersPerShard {
				b.users[sh] = append(b.users[sh], id)
			}
		}
	}
	fund := `{"amount":"1000000000000000000000000000000"}`
	for _, sh := range b.entry.router.Shards() {
		for _, u := range b.users[sh] {
			if err := b.expect(ctx, http.MethodPost, b.entry.url+"/v1/users/"+u+"/deposits", fund, "walletbench-fund-"+b.runID+"-"+u, "", http.StatusCreated); err != nil {
				return fmt.Errorf("funding %s: %w", u, err)
			}
		}
	}
	var err error
	if b.hot, err = b.createUser(ctx, b.entry, "walletbench-hot"); err != nil {
		return err
	}
	if b.small, err = b.history(ctx, "walletbench-history-small", smallHistory); err != nil {
		return err
	}
	if b.large, err = b.history(ctx, fmt.Sprintf("walletbench-history-%d", b.o.largeSize), b.o.largeSize); err != nil {
		return err
	}
	all := b.entryUsers()
	for i := range 200 {
		rp := replayable{user: all[i%len(all)], key: fmt.Sprintf("walletbench-replay-%s-%d", b.runID, i)}
		if err := b.expect(ctx, http.MethodPost, b.entry.url+"/v1/users/"+rp.user+"/deposits", `{"amount":"1"}`, rp.key, "", http.StatusCreated); err != nil {
			return err
		}
		b.replay = append(b.replay, rp)
	}
	return nil
}

func (b *bench) createUser(ctx context.Context, r *region, key string) (string, error) {
	status, body, err := b.do(ctx, http.MethodPost, r.url+"/v1/users", `{"region":"`+r.name+`"}`, key, "")
	if err != nil {
		return "", err
	}
	if status != http.StatusCreated && status != http.StatusOK {
		return "", fmt.Errorf("creating a user: status %d: %s", status, body)
	}
	var u struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &u); err != nil || u.ID == "" {
		return "", fmt.Errorf("creating a user: unexpected body %s", body)
	}
	return u.ID, nil
}

// history returns the user created with key, its ledger grown to at least n entries.
// Entries are appended straight to the user's shard through the ledger's own
// AppendManyTx (its arithmetic, its hash chain: `wallet ledger verify` stays clean),
// ten thousand per transaction; the user is kept between runs, so only the first run
// pays for a long history.
func (b *bench) history(ctx context.Context, key string, n int) (string, error) {
	id, err := b.createUser(ctx, b.entry, key)
	if err != nil {
		return "", err
	}
	region := pgdb.NewShards(b.entry.router, b.shards)
	svc := ledger.NewService(region, b.entry.cfg.LedgerSealKey())
	bal, err := svc.Balance(ctx, id, "")
	if err != nil {
		return "", err
	}
	missing := n - int(bal.LedgerSeq)
	if missing <= 0 {
		return id, nil
	}
	b.log("  building a history of %d entries (once; kept for later runs)", n)
	pool := region.For(id).Pool
	one := money.FromInt64(1)
	for missing > 0 {
		chunk := min(missing, 10_000)
		ins := make([]ledger.EntryInput, chunk)
		for i := range ins {
			ins[i] = ledger.EntryInput{UserID: id, Kind: ledger.KindDeposit, Amount: one}
		}
		if err := pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
			_, err := svc.AppendManyTx(ctx, tx, id, ins)
			return err
		}); err != nil {
			return "", fmt.Errorf("building the history of %s: %w", id, err)
		}
		missing -= chunk
	}
	return id, nil
}

func (b *bench) entryUsers() []string {
	var all []string
	for _, sh := range b.entry.router.Shards() {
		all = append(all, b.users[sh]...)
	}
	return all
}

// do sends one request with the gateway token, an optional idempotency key and an
// optional Prefer header, and returns the status and body.
func (b *bench) do(ctx context.Context, method, url, body, key, prefer string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.o.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if prefer != "" {
		req.Header.Set("Prefer", prefer)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes(), err
}

func (b *bench) expect(ctx context.Context, method, url, body, key, prefer string, want int) error {
	status, got, err := b.do(ctx, method, url, body, key, prefer)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, url, status, want, got)
	}
	return nil
}

// call is one workload request: its outcome, with failures named by kind.
func (b *bench) call(ctx context.Context, method, url, body, key, prefer string, want int) (outcome, []byte) {
	status, got, err := b.do(ctx, method, url, body, key, prefer)
	switch {
	case err != nil:
		return outcome{err: transportError(err)}, nil
	case status != want:
		var p struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(got, &p)
		if status == http.StatusServiceUnavailable && p.Code == "transfers_backlogged" {
			// Back-pressure: wait as a well-behaved gateway would, then go on.
			select {
			case <-ctx.Done():
			case <-time.After(backoffOnPushback):
			}
			return outcome{throttled: true}, got
		}
		return outcome{err: fmt.Sprintf("status %d %s", status, p.Code)}, got
	}
	return outcome{}, got
}

func transportError(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	default:
		return "transport error"
	}
}

// key is a fresh idempotency key: unique per run, workload, worker and sequence.
func (b *bench) key(workload string, worker, seq int) string {
	return fmt.Sprintf("wb-%s-%s-%d-%d", b.runID, workload, worker, seq)
}

// workloads defines every scenario over the prepared users.
func (b *bench) workloads() []workload {
	base := b.entry.url
	shards := b.entry.router.Shards()
	all := b.entryUsers()
	pick := func(rng *mathrand.Rand, users []string) string { return users[rng.IntN(len(users))] }
	// pair picks two different users of one shard, or of two different shards.
	pair := func(rng *mathrand.Rand, sameShard bool) (string, string) {
		from := shards[rng.IntN(len(shards))]
		to := from
		if !sameShard {
			for to == from {
				to = shards[rng.IntN(len(shards))]
			}
		}
		a := pick(rng, b.users[from])
		for {
			c := pick(rng, b.users[to])
			if c != a {
				return a, c
			}
		}
	}
	remote := b.s.regions[benchRegions[1]]
	var remoteUsers []string
	for _, sh := range remote.router.Shards() {
		remoteUsers = append(remoteUsers, b.users[sh]...)
	}
	transfer := func(from, to string) string {
		return `{"from_user_id":"` + from + `","to_user_id":"` + to + `","amount":"1"}`
	}
	move := func(name, kind string, user func(*mathrand.Rand) string) operation {
		return func(ctx context.Context, rng *mathrand.Rand, w, seq int, _ time.Time) outcome {
			o, _ := b.call(ctx, http.MethodPost, base+"/v1/users/"+user(rng)+"/"+kind, `{"amount":"1"}`, b.key(name, w, seq), "", http.StatusCreated)
			return o
		}
	}
	read := func(user string) operation {
		return func(ctx context.Context, _ *mathrand.Rand, _, _ int, _ time.Time) outcome {
			o, _ := b.call(ctx, http.MethodGet, base+"/v1/users/"+user+"/balance", "", "", "", http.StatusOK)
			return o
		}
	}
	async := func(name string, users func(*mathrand.Rand) (string, string)) operation {
		return func(ctx context.Context, rng *mathrand.Rand, w, seq int, scheduled time.Time) outcome {
			from, to := users(rng)
			o, body := b.call(ctx, http.MethodPost, base+"/v1/transfers", transfer(from, to), b.key(name, w, seq), "", http.StatusAccepted)
			if o.err != "" {
				return o
			}
			var t struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(body, &t); err != nil || t.ID == "" {
				return outcome{err: "no transfer id"}
			}
			return outcome{transfer: &sentTransfer{id: t.ID, sent: scheduled}}
		}
	}
	return []workload{
		{name: "deposit", what: "deposits of 1 to users spread over every shard of the region",
			op: move("deposit", "deposits", func(rng *mathrand.Rand) string { return pick(rng, all) })},
		{name: "withdrawal", what: "withdrawals of 1 from users spread over every shard",
			op: move("withdrawal", "withdrawals", func(rng *mathrand.Rand) string { return pick(rng, all) })},
		{name: "transfer_same_shard", what: "transfers between two users of one shard (one transaction)",
			op: func(ctx context.Context, rng *mathrand.Rand, w, seq int, _ time.Time) outcome {
				from, to := pair(rng, true)
				o, _ := b.call(ctx, http.MethodPost, base+"/v1/transfers", transfer(from, to), b.key("same", w, seq), "", http.StatusCreated)
				return o
			}},
		{name: "hot_account", what: "every client deposits to the same user",
			op: move("hot", "deposits", func(*mathrand.Rand) string { return b.hot })},
		{name: "idempotent_replay", what: "deposits repeated with keys already answered",
			op: func(ctx context.Context, rng *mathrand.Rand, _, _ int, _ time.Time) outcome {
				rp := b.replay[rng.IntN(len(b.replay))]
				o, _ := b.call(ctx, http.MethodPost, base+"/v1/users/"+rp.user+"/deposits", `{"amount":"1"}`, rp.key, "", http.StatusCreated)
				return o
			}},
		{name: "batch_deposit", what: fmt.Sprintf("batches of %d deposits of 1 to users spread over every shard (ops are items)", batchSize),
			items: batchSize,
			op: func(ctx context.Context, rng *mathrand.Rand, w, seq int, _ time.Time) outcome {
				var body strings.Builder
				body.WriteString(`{"items":[`)
				for i := range batchSize {
					if i > 0 {
						body.WriteByte(',')
					}
					fmt.Fprintf(&body, `{"kind":"deposit","user_id":%q,"amount":"1","idempotency_key":"%s-%d"}`, pick(rng, all), b.key("batch", w, seq), i)
				}
				body.WriteString(`]}`)
				o, got := b.call(ctx, http.MethodPost, base+"/v1/batches", body.String(), "", "", http.StatusOK)
				if o.err != "" {
					return o
				}
				var res struct {
					Results []struct {
						Status int `json:"status"`
					} `json:"results"`
				}
				if err := json.Unmarshal(got, &res); err != nil || len(res.Results) != batchSize {
					return outcome{err: "malformed batch answer"}
				}
				for _, r := range res.Results {
					if r.Status != http.StatusCreated {
						return outcome{err: fmt.Sprintf("item status %d", r.Status)}
					}
				}
				return o
			}},
		{name: "balance_small", what: fmt.Sprintf("balance reads of a user with %d ledger entries", smallHistory), op: read(b.small)},
		{name: "balance_large", what: fmt.Sprintf("balance reads of a user with %d ledger entries", b.o.largeSize), op: read(b.large)},
		{name: "transfer_cross_shard", what: "transfers between shards of the region, completed (TCC over Kafka)", async: true,
			op: async("cross_shard", func(rng *mathrand.Rand) (string, string) { return pair(rng, false) })},
		{name: "transfer_cross_region", what: "transfers from region eu to region us, completed", async: true,
			op: async("cross_region", func(rng *mathrand.Rand) (string, string) { return pick(rng, all), pick(rng, remoteUsers) })},
		{name: "transfer_cross_shard_1client", what: "one client, one cross-shard transfer at a time, answered when completed (Prefer: wait)",
			clients: 1, closedOnly: true,
			op: func(ctx context.Context, rng *mathrand.Rand, w, seq int, _ time.Time) outcome {
				from, to := pair(rng, false)
				o, body := b.call(ctx, http.MethodPost, base+"/v1/transfers", transfer(from, to), b.key("single", w, seq), "wait=10", http.StatusCreated)
				if o.err == "" && !bytes.Contains(body, []byte(`"status":"completed"`)) {
					return outcome{err: "not completed"}
				}
				return o
			}},
	}
}

// batchSize is the items of one batch_deposit call.
const batchSize = 100

// backoffOnPushback is how long a client waits after the wallet refuses a transfer
// because its shard is backlogged (the wallet says Retry-After: 1; clients of a
// benchmark retry sooner to keep the pressure on).
const backoffOnPushback = 200 * time.Millisecond

// drainBound is how long the benchmark waits, after an asynchronous workload, for its
// transfers to become final; what is still pending then counts as errors.
const drainBound = 120 * time.Second

func (b *bench) runWorkload(ctx context.Context, w workload, p *progress) (workloadResult, error) {
	spec := driveSpec{label: w.name, clients: b.o.clients, warmup: b.o.warmup, duration: b.o.duration}
	if w.clients > 0 {
		spec.clients = w.clients
	}
	if !w.closedOnly {
		spec.rate = b.o.rate
	}
	d := drive(ctx, spec, w.op, p)
	r := workloadResult{Clients: spec.clients, Errors: d.errors, ErrorKinds: d.errCounts, Requests: d.count, Throttled: d.throttled, What: w.what}
	if !w.async {
		r.fill(d.lat.summarise(), float64(max(w.items, 1)*(d.count-d.errors-d.throttled))/spec.duration.Seconds())
		return r, nil
	}
	outcomes, err := b.awaitTransfers(ctx, d.transfers, p, w.name)
	if err != nil {
		return r, err
	}
	var lat latencies
	completedInRun, last := 0, d.window[1]
	for _, t := range d.transfers {
		o, ok := outcomes[t.id]
		switch {
		case !ok:
			r.Errors++
			r.ErrorKinds["still pending after the drain bound"]++
			continue
		case o.status != "completed":
			r.Errors++
			r.ErrorKinds["ended "+o.status]++
			continue
		}
		lat = append(lat, o.at.Sub(t.sent))
		if !o.at.After(d.window[1]) {
			completedInRun++
		}
		if o.at.After(last) {
			last = o.at
		}
	}
	r.fill(lat.summarise(), float64(completedInRun)/spec.duration.Seconds())
	accepted := float64(len(d.transfers)) / spec.duration.Seconds()
	drain := last.Sub(d.window[1]).Seconds()
	r.AcceptedPerS, r.DrainS = &accepted, &drain
	return r, nil
}

// transferOutcome is a final transfer as its sender's shard recorded it.
type transferOutcome struct {
	status string
	at     time.Time
}

// awaitTransfers follows sent transfers on their senders' shards until every one is
// final or drainBound passes after the last was sent.
func (b *bench) awaitTransfers(ctx context.Context, sent []sentTransfer, p *progress, label string) (map[string]transferOutcome, error) {
	byShard := map[string][]string{}
	for _, t := range sent {
		sh := b.entry.router.ShardOf(t.id)
		byShard[sh] = append(byShard[sh], t.id)
	}
	out := make(map[string]transferOutcome, len(sent))
	var finished counter
	p.start(label+" (draining)", drainBound, &finished)
	defer p.stop()
	deadline := time.Now().Add(drainBound)
	for len(out) < len(sent) && time.Now().Before(deadline) {
		for sh, ids := range byShard {
			// The benchmark reads outcomes behind the API, as an auditor would: the
			// sender's shard is the coordinator's record of each transfer.
			rows, err := b.shards[sh].Pool.Query(ctx,
				`SELECT id, status, updated_at FROM transfers WHERE id = ANY($1) AND status <> 'pending'`, ids)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var id string
				var o transferOutcome
				if err := rows.Scan(&id, &o.status, &o.at); err != nil {
					rows.Close()
					return nil, err
				}
				out[id] = o
				finished.add(1)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
			byShard[sh] = slices.DeleteFunc(ids, func(id string) bool { _, done := out[id]; return done })
		}
		if len(out) < len(sent) {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return out, nil
}
