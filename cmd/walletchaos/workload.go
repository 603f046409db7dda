package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"example.com/wallet/platform/shard"
)

// account is one user of the bank.
type account struct {
	id, region, shard string
	// linear accounts only see deposits, withdrawals and reads, so their history can be
	// checked against the model of one wallet.
	linear bool
}

// call is one request of the workload and what came of it.
type call struct {
	op     string // deposit, withdraw, read, transfer, refund
	user   string
	to     string
	amount int64
	// currency is named in the request when not empty (foreignCurrency); empty is
	// the users' default, EUR.
	currency string
	key      string
	via      string // region whose entry the request went through
	start    time.Duration
	end      time.Duration
	status   int // 0: no answer (timeout, connection)
	code     string
	body     []byte
	// transferID is the transfer a create (or refund) answered with.
	transferID string
	// refundOf is the transfer a refund refunds.
	refundOf string
}

// unknown reports whether the request's outcome cannot be known from its answer: no
// answer at all, a 5xx (the write may or may not have happened), or 409 (a request
// with the key was still running: Go's HTTP client itself resends a request with an
// Idempotency-Key when its connection breaks, so the first attempt may be that one).
func (c *call) unknown() bool {
	return c.status == 0 || c.status >= 500 || c.status == http.StatusConflict
}

// workload drives the bank and records everything.
type workload struct {
	c       *cluster
	rng     *rand.Rand
	rngMu   sync.Mutex
	client  *http.Client
	t0      time.Time
	users   []account
	bank    []account // users that transfer
	linear  []account
	funding map[string]int64 // user -> first deposit, in the default currency
	// foreignFunding: user -> first deposit in foreignCurrency.
	foreignFunding map[string]int64

	mu    sync.Mutex
	calls []*call
	// created are the transfers the bank's creates answered with: what refunds pick
	// from (any of them: one not completed yet, or a refund, is refused 422).
	created []string
	// retries are repeated requests with a key already used, by key.
	retries map[string][]*call
	reused  []*call // a key used again with another body
	poison  int
}

func newWorkload(c *cluster, seed uint64) *workload {
	return &workload{
		c: c, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), t0: time.Now(), funding: map[string]int64{}, foreignFunding: map[string]int64{}, retries: map[string][]*call{},
		client: &http.Client{Timeout: 12 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}},
	}
}

func (w *workload) intn(n int) int {
	w.rngMu.Lock()
	defer w.rngMu.Unlock()
	return w.rng.IntN(n)
}

func (w *workload) now() time.Duration { return time.Since(w.t0) }

// send issues one request through region's entry and records it.
func (w *workload) send(ctx context.Context, region, method, path, body, key string) (int, []byte) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(ctx, method, "http://"+w.c.entry[region].addr()+path, rd)
	req.Header.Set("Authorization", "Bearer "+gatewayToken)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return 0, nil
	}
	return resp.StatusCode, buf.Bytes()
}

// do performs c's request and fills in its answer.
func (w *workload) do(ctx context.Context, c *call) {
	c.start = w.now()
	switch c.op {
	case "read":
		c.status, c.body = w.send(ctx, c.via, http.MethodGet, "/v1/users/"+c.user+"/balance", "", "")
	case "deposit", "withdraw":
		path := map[string]string{"deposit": "deposits", "withdraw": "withdrawals"}[c.op]
		c.status, c.body = w.send(ctx, c.via, http.MethodPost, "/v1/users/"+c.user+"/"+path,
			`{"amount":"`+strconv.FormatInt(c.amount, 10)+`"`+c.currencyField()+`}`, c.key)
	case "transfer":
		c.status, c.body = w.send(ctx, c.via, http.MethodPost, "/v1/transfers",
			fmt.Sprintf(`{"from_user_id":%q,"to_user_id":%q,"amount":"%d"%s}`, c.user, c.to, c.amount, c.currencyField()), c.key)
	case "refund":
		c.status, c.body = w.send(ctx, c.via, http.MethodPost, "/v1/transfers/"+c.refundOf+"/refunds",
			fmt.Sprintf(`{"amount":"%d"}`, c.amount), c.key)
	}
	c.end = w.now()
	var p struct {
		Code string `json:"code"`
		ID   string `json:"id"`
	}
	_ = json.Unmarshal(c.body, &p)
	c.code = p.Code
	if c.movesBetweenUsers() && (c.status == 201 || c.status == 202) {
		c.transferID = p.ID
	}
}

// movesBetweenUsers reports whether c is a transfer or a refund: a transfer of its
// own, answered 201 or 202 with its id.
func (c *call) movesBetweenUsers() bool { return c.op == "transfer" || c.op == "refund" }

// currencyField is the request's currency member, after the amount: none for the
// default currency.
func (c *call) currencyField() string {
	if c.currency == "" {
		return ""
	}
	return fmt.Sprintf(`,"currency":%q`, c.currency)
}

// foreignCurrency is the bank's second currency: every bank user holds some, and a
// quarter of its deposits, withdrawals and transfers move it, so conservation is
// checked per currency under the same faults.
const foreignCurrency = "USD"

func (w *workload) record(c *call) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, c)
	if c.op == "transfer" && c.transferID != "" {
		w.created = append(w.created, c.transferID)
	}
}

// refundable picks one of the transfers created so far ("" before the first).
func (w *workload) refundable() string {
	w.mu.Lock()
	n := len(w.created)
	w.mu.Unlock()
	if n == 0 {
		return ""
	}
	i := w.intn(n)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.created[i]
}

// setUp creates 200 users over both regions (160 that transfer, 40 whose histories
// are checked for linearizability) and funds them; a fifth of the bank is kept near
// zero, so withdrawals and transfers race for its last units.
func (w *workload) setUp(ctx context.Context) error {
	for i := range 200 {
		region := chaosRegions[i%2]
		status, body := w.send(ctx, region, http.MethodPost, "/v1/users", `{"region":"`+region+`"}`, fmt.Sprintf("chaos-user-%d", i))
		if status != http.StatusCreated {
			return fmt.Errorf("creating a user: %d %s", status, body)
		}
		var u struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(body, &u)
		a := account{id: u.ID, region: region, shard: shard.NewRouter(w.c.cfg[region]).ShardOf(u.ID), linear: i >= 160}
		w.users = append(w.users, a)
		if a.linear {
			w.linear = append(w.linear, a)
			continue
		}
		w.bank = append(w.bank, a)
		amount := int64(1000 + w.intn(9000))
		if i%5 == 0 {
			amount = 5
		}
		if status, body := w.send(ctx, region, http.MethodPost, "/v1/users/"+u.ID+"/deposits", fmt.Sprintf(`{"amount":"%d"}`, amount), "chaos-fund-"+u.ID); status != http.StatusCreated {
			return fmt.Errorf("funding %s: %d %s", u.ID, status, body)
		}
		w.funding[u.ID] = amount
		foreign := int64(500 + w.intn(2000))
		if status, body := w.send(ctx, region, http.MethodPost, "/v1/users/"+u.ID+"/deposits",
			fmt.Sprintf(`{"amount":"%d","currency":%q}`, foreign, foreignCurrency), "chaos-fund-foreign-"+u.ID); status != http.StatusCreated {
			return fmt.Errorf("funding %s in %s: %d %s", u.ID, foreignCurrency, status, body)
		}
		w.foreignFunding[u.ID] = foreign
	}
	return nil
}

// run drives clients open-loop clients until ctx ends: each sends at its rate, and
// backs off (doubling, up to two seconds) while its requests fail.
func (w *workload) run(ctx context.Context, clients int, perClient float64) {
	var wg sync.WaitGroup
	for id := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			interval := time.Duration(float64(time.Second) / perClient)
			backoff := time.Duration(0)
			// Requests in flight when the run ends are finished, not abandoned: an
			// abandoned write would have an unknown outcome nobody settles.
			reqCtx := context.WithoutCancel(ctx)
			for seq := 0; ctx.Err() == nil; seq++ {
				c := w.next(id, seq)
				w.do(reqCtx, c)
				w.record(c)
				w.maybeRepeat(reqCtx, c)
				if c.unknown() {
					backoff = min(max(2*backoff, 50*time.Millisecond), 2*time.Second)
				} else {
					backoff = 0
				}
				select {
				case <-ctx.Done():
				case <-time.After(interval + backoff):
				}
			}
		}()
	}
	wg.Wait()
}

// next picks a client's next request.
func (w *workload) next(client, seq int) *call {
	c := &call{key: fmt.Sprintf("chaos-%d-%d", client, seq), amount: int64(1 + w.intn(50))}
	if w.intn(5) == 0 {
		u := w.linear[w.intn(len(w.linear))]
		c.user, c.op = u.id, []string{"deposit", "withdraw", "read"}[w.intn(3)]
	} else {
		u := w.bank[w.intn(len(w.bank))]
		c.user = u.id
		switch r := w.intn(100); {
		case r < 20:
			c.op = "deposit"
		case r < 35:
			c.op = "withdraw"
		case r < 50:
			c.op = "read"
		case r < 55:
			// A refund of any transfer so far, through either region: one not yet
			// completed, or itself a refund, is refused 422 transfer_not_refundable; more than
			// is left, 422 refund_exceeds_remainder.
			if c.refundOf = w.refundable(); c.refundOf == "" {
				c.op = "read"
			} else {
				c.op = "refund"
			}
		default:
			c.op = "transfer"
			c.to = w.receiver(u, r)
		}
		if (c.op == "deposit" || c.op == "withdraw" || c.op == "transfer") && w.intn(4) == 0 {
			c.currency = foreignCurrency
		}
	}
	if c.op == "read" {
		c.key, c.amount = "", 0
	}
	c.via = chaosRegions[w.intn(2)]
	return c
}

// receiver picks a transfer's receiver: on the sender's shard, another shard of its
// region, or the other region, in equal parts.
func (w *workload) receiver(from account, r int) string {
	for {
		to := w.bank[w.intn(len(w.bank))]
		if to.id == from.id {
			continue
		}
		sameShard, sameRegion := to.shard == from.shard, to.region == from.region
		switch r % 3 {
		case 0:
			if sameShard {
				return to.id
			}
		case 1:
			if sameRegion && !sameShard {
				return to.id
			}
		default:
			if !sameRegion {
				return to.id
			}
		}
	}
}

// maybeRepeat sends 2% of writes whose answer was definite again with the same key (a
// third of those through the other region), and 0.5% of acknowledged ones with the
// same key and another amount, which must be refused.
func (w *workload) maybeRepeat(ctx context.Context, first *call) {
	if first.key == "" || first.unknown() {
		return // an unknown outcome is settled after the run
	}
	switch n := w.intn(1000); {
	case n < 20:
		again := *first
		again.body, again.status, again.code, again.transferID = nil, 0, "", ""
		if n < 7 {
			again.via = chaosRegions[0]
			if first.via == again.via {
				again.via = chaosRegions[1]
			}
		}
		w.do(ctx, &again)
		w.mu.Lock()
		w.retries[first.key] = append(w.retries[first.key], &again)
		w.mu.Unlock()
	case n < 25 && first.status == http.StatusCreated:
		// The key has a stored record: another body under it must be refused.
		other := *first
		other.amount++
		other.body, other.status, other.code, other.transferID = nil, 0, "", ""
		w.do(ctx, &other)
		w.mu.Lock()
		w.reused = append(w.reused, &other)
		w.mu.Unlock()
	}
}

// resolve retries every write whose outcome was unknown with its own key until the
// answer is definite: that answer says whether it happened, and since a key moves
// money at most once, the two together are one operation between the first call and
// the last answer.
func (w *workload) resolve(ctx context.Context) (int, error) {
	w.mu.Lock()
	var pending []*call
	for _, c := range w.calls {
		if c.key != "" && c.unknown() {
			pending = append(pending, c)
		}
	}
	for _, rs := range w.retries {
		for _, c := range rs {
			if c.unknown() {
				pending = append(pending, c)
			}
		}
	}
	w.mu.Unlock()
	for _, c := range pending {
		deadline := time.Now().Add(60 * time.Second)
		for {
			again := *c
			w.do(ctx, &again)
			if !again.unknown() {
				c.status, c.code, c.body, c.transferID, c.end = again.status, again.code, again.body, again.transferID, again.end
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return len(pending), fmt.Errorf("the outcome of %s %s (key %s) was still unknown after 60 s: %d %s", c.op, c.user, c.key, again.status, again.body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return len(pending), nil
}
