package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"example.com/wallet/modules/transfers"
	"example.com/wallet/platform/kafkabus"
	"example.com/wallet/platform/shard"
)

func kafkaScript(t *testing.T, action string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot(), "scripts", "kafka.sh"), action)
	// Without KAFKA_BROKERS the script manages its own broker.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KAFKA_BROKERS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/kafka.sh %s: %v\n%s", action, err, out)
	}
}

// TestEveryMessageDeliveredTwiceHasOneEffect completes transfers in every direction,
// then republishes every message ever sent on both regions' TCC topics. Nothing
// changes: no balance, no entry, no status.
func TestEveryMessageDeliveredTwiceHasOneEffect(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	pairs := [][2]string{{"eu", "us"}, {"us", "eu"}, {"eu", "eu"}, {"us", "us"}}
	var ids []string
	var users []string
	for i, p := range pairs {
		from, to := fund(t, s, p[0], "100"), fund(t, s, p[1], "0")
		users = append(users, from, to)
		_, tr := send(t, s.EU, from, to, fmt.Sprint(10+i), "dup")
		ids = append(ids, tr.ID)
	}
	for _, id := range ids {
		awaitFinal(t, s.US, id, 20*time.Second)
	}
	before := map[string]balance{}
	for _, u := range users {
		before[u] = getBalance(t, s.EU, u)
	}
	handled := s.EU.Metric(t, "wallet_consumer_messages_total", `result="ok"`) + s.US.Metric(t, "wallet_consumer_messages_total", `result="ok"`)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := kafkabus.NewWriter([]string{brokers(t)})
	defer w.Close()
	republished := 0
	for _, region := range []string{"eu", "us"} {
		topic := s.TopicPrefix + "." + region + ".tcc"
		msgs, err := kafkabus.ReadAll(ctx, []string{brokers(t)}, topic)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if err := w.WriteMessages(ctx, kafka.Message{Topic: topic, Key: m.Key, Value: m.Value, Headers: m.Headers}); err != nil {
				t.Fatal(err)
			}
			republished++
		}
	}
	// At least the two cross-region transfers: a credit and a reply each.
	if republished < 4 {
		t.Fatalf("only %d messages to republish", republished)
	}
	eventually(t, 30*time.Second, "the republished messages were handled", func() bool {
		now := s.EU.Metric(t, "wallet_consumer_messages_total", `result="ok"`) + s.US.Metric(t, "wallet_consumer_messages_total", `result="ok"`)
		return now >= handled+float64(republished)
	})
	for _, u := range users {
		if after := getBalance(t, s.EU, u); after != before[u] {
			t.Errorf("%s changed after duplicates: %+v -> %+v", u, before[u], after)
		}
	}
	for _, id := range ids {
		if tr := awaitFinal(t, s.EU, id, time.Second); tr.Status != "completed" {
			t.Errorf("%s is %s after duplicates", id, tr.Status)
		}
	}
	if dl := s.EU.Metric(t, "wallet_dlq_messages_total") + s.US.Metric(t, "wallet_dlq_messages_total"); dl != 0 {
		t.Errorf("duplicates were dead-lettered: %v", dl)
	}
	s.VerifyLedgers(t)
}

// TestCancelOvertakesHeldBackCredit holds the credit back in the sender's outbox past
// the TTL: the coordinator's cancel reaches the participant first, the late credit is
// refused, the transfer is cancelled and no money appears anywhere.
func TestCancelOvertakesHeldBackCredit(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_TRANSFERS__TTL=1s", "WALLET_TESTING__RELAY_HOLD__CREDIT=4s")
	from, to := fund(t, s, "eu", "100"), fund(t, s, "us", "0")
	_, tr := send(t, s.EU, from, to, "25", "late")
	final := awaitFinal(t, s.EU, tr.ID, 20*time.Second)
	if final.Status != "cancelled" || final.Reason != "expired" || !hasStep(final, "cancel_requested") {
		t.Fatalf("final = %+v", final)
	}
	// The held-back credit arrives after the cancel and must be refused.
	eventually(t, 20*time.Second, "the late credit was refused", func() bool {
		return s.US.Metric(t, "wallet_tcc_steps_total", `step="participant_credit"`, `outcome="refused"`) >= 1
	})
	assertBalance(t, s, from, "100", "0")
	assertBalance(t, s, to, "0", "0")
	s.VerifyLedgers(t)
}

// TestCreditAppliedBeforeExpiryCompletes holds the participant's reply back past the
// TTL: the coordinator asks to cancel, the participant answers that it already
// credited, and the transfer completes instead of being cancelled.
func TestCreditAppliedBeforeExpiryCompletes(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_TRANSFERS__TTL=1s", "WALLET_TESTING__RELAY_HOLD__CREDITED=3s")
	from, to := fund(t, s, "eu", "100"), fund(t, s, "us", "0")
	_, tr := send(t, s.US, from, to, "25", "slow-reply")
	final := awaitFinal(t, s.EU, tr.ID, 20*time.Second)
	if final.Status != "completed" || !hasStep(final, "cancel_requested") {
		t.Fatalf("final = %+v", final)
	}
	assertBalance(t, s, from, "75", "0")
	assertBalance(t, s, to, "25", "0")
	s.VerifyLedgers(t)
}

func hasStep(tr transfer, step string) bool {
	for _, s := range tr.Steps {
		if s.Step == step {
			return true
		}
	}
	return false
}

// TestCrashesDoNotLoseTransfers kills the sender's region right after Try, then the
// receiver's, and restarts each on the same databases: the transfers complete.
func TestCrashesDoNotLoseTransfers(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	for _, victim := range []*Region{s.EU, s.US} {
		from, to := fund(t, s, "eu", "100"), fund(t, s, "us", "0")
		resp, tr := send(t, s.EU, from, to, "40", "crash-"+victim.Name)
		if resp.Status != 202 {
			t.Fatalf("POST = %d %s", resp.Status, resp.Body)
		}
		victim.Kill9()
		victim.Start()
		victim.WaitReady()
		final := awaitFinal(t, s.EU, tr.ID, 60*time.Second)
		if final.Status != "completed" {
			t.Fatalf("after killing %s: %+v", victim.Name, final)
		}
		assertBalance(t, s, from, "60", "0")
		assertBalance(t, s, to, "40", "0")
	}
	s.VerifyLedgers(t)
}

// TestBrokerOutageMidFlight stops Kafka for ten seconds right after one transfer's Try
// (its credit may be anywhere: in the outbox, on the broker, being consumed) and makes
// a second transfer while the broker is down, whose credit can only wait in the
// outbox. Both complete once the broker is back. Not parallel: it stops the broker
// the other tests use.
func TestBrokerOutageMidFlight(t *testing.T) {
	s := StartStack(t)
	from, to := fund(t, s, "us", "100"), fund(t, s, "eu", "0")
	_, first := send(t, s.US, from, to, "33", "outage-1")
	kafkaScript(t, "down")
	t.Cleanup(func() { kafkaScript(t, "up") })
	outage := time.Now()

	resp, second := send(t, s.US, from, to, "7", "outage-2")
	if resp.Status != 202 {
		t.Fatalf("Try during the outage = %d %s", resp.Status, resp.Body)
	}
	eventually(t, 15*time.Second, "the outbox reports a message waiting for the broker", func() bool {
		return s.US.Metric(t, "wallet_outbox_oldest_unsent_seconds") > 0
	})
	time.Sleep(time.Until(outage.Add(10 * time.Second))) // the outage itself lasts 10 s
	kafkaScript(t, "up")
	back := time.Now()
	for _, id := range []string{first.ID, second.ID} {
		if final := awaitFinal(t, s.EU, id, 90*time.Second); final.Status != "completed" {
			t.Fatalf("final = %+v", final)
		}
	}
	// How soon depends on the broker too: it answers metadata before its group
	// coordinator has loaded the offsets ("Group Load In Progress"), longer the more
	// partitions it holds. The relay's own cadence is tested in platform/outbox.
	t.Logf("transfers completed %.1f s after the broker answered again", time.Since(back).Seconds())
	assertBalance(t, s, from, "60", "0")
	assertBalance(t, s, to, "40", "0")
	eventually(t, 15*time.Second, "the outbox drains", func() bool {
		return s.US.Metric(t, "wallet_outbox_oldest_unsent_seconds") == 0
	})
}

// TestPoisonMessagesAreDeadLettered writes messages that can never succeed straight
// onto a TCC topic: each reaches the dead-letter topic with its error at its first try
// (no retry can decode them), transfers keep flowing meanwhile, and the CLI lists and
// replays them.
func TestPoisonMessagesAreDeadLettered(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	topic := s.TopicPrefix + ".eu.tcc"
	poison := []string{`not json`, `{"type":"explode"}`, `{"type":"credit","transfer_id":"eu_tr_x","from_user_id":"x","to_user_id":"y","amount":"-1"}`,
		// Well formed, but from a region that is not a peer: answering it would only
		// queue a reply for nowhere.
		`{"type":"credit","transfer_id":"zz_tr_01JD5ZQ8F3X6N9T2W4Y7B1C3D5","from_user_id":"zz_01JD5ZQ8F3X6N9T2W4Y7B1C3D5","to_user_id":"eu_01JD5ZQ8F3X6N9T2W4Y7B1C3D5","amount":"5"}`}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The region creates its topic in the background at start; make sure it is there.
	if err := kafkabus.EnsureTopics(ctx, []string{brokers(t)}, 4, topic); err != nil {
		t.Fatal(err)
	}
	w := kafkabus.NewWriter([]string{brokers(t)})
	defer w.Close()
	for i, p := range poison {
		if err := w.WriteMessages(ctx, kafka.Message{Topic: topic, Key: []byte(fmt.Sprint("poison-", i)), Value: []byte(p)}); err != nil {
			t.Fatal(err)
		}
	}
	from, to := fund(t, s, "us", "100"), fund(t, s, "eu", "0")
	_, tr := send(t, s.US, from, to, "5", "alongside")
	if final := awaitFinal(t, s.US, tr.ID, 30*time.Second); final.Status != "completed" {
		t.Fatalf("a transfer next to poison = %+v", final)
	}
	eventually(t, 30*time.Second, "four dead letters", func() bool {
		return s.EU.Metric(t, "wallet_dlq_messages_total") == 4
	})
	code, out := s.EU.CLI(t, "dlq", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 {
		t.Fatalf("dlq list = exit %d:\n%s", code, out)
	}
	for _, line := range lines {
		var dl struct {
			Key, Error, Payload, Tries string
		}
		if err := json.Unmarshal([]byte(line), &dl); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		wantErr := "malformed TCC message"
		if dl.Key == "poison-3" {
			wantErr = "region zz, which is not a peer of eu"
		}
		if !strings.HasPrefix(dl.Key, "poison-") || !strings.Contains(dl.Error, wantErr) || dl.Tries != "1" {
			t.Fatalf("dead letter = %s", line)
		}
	}
	if code, out := s.EU.CLI(t, "dlq", "replay"); code != 0 || !strings.Contains(out, "replayed 4") {
		t.Fatalf("dlq replay = exit %d: %s", code, out)
	}
	eventually(t, 30*time.Second, "replayed poison dead-lettered again", func() bool {
		return s.EU.Metric(t, "wallet_dlq_messages_total") == 8
	})
}

// TestConcurrentRandomTransfersConserveMoney runs 200 concurrent random transfers
// among 20 users spread over both regions and checks the invariants: every transfer
// final, the total unchanged, nothing frozen or negative, every ledger verifying.
func TestConcurrentRandomTransfersConserveMoney(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	const users, deposit, transfers, workers = 20, 1000, 200, 16
	var ids []string
	for i := 0; i < users; i++ {
		ids = append(ids, fund(t, s, []string{"eu", "us"}[i%2], fmt.Sprint(deposit)))
	}
	rng := rand.New(rand.NewPCG(7, 11)) // seeded: a failure can be replayed
	type job struct{ from, to, amount, key string }
	jobs := make(chan job, transfers)
	for i := 0; i < transfers; i++ {
		a := rng.IntN(users)
		b := (a + 1 + rng.IntN(users-1)) % users
		jobs <- job{ids[a], ids[b], fmt.Sprint(1 + rng.IntN(300)), fmt.Sprint("r", i)}
	}
	close(jobs)
	var mu sync.Mutex
	var created []string
	outcomes := map[int]int{}
	// The audit reads the books while the transfers run, as it does in production:
	// every audit must be clean, transfers in flight and all.
	auditing := make(chan struct{})
	audits := make(chan int, 1)
	go func() {
		n := 0
		defer func() { audits <- n }()
		for {
			select {
			case <-auditing:
				return
			default:
			}
			if problem := s.audit(); problem != "" {
				t.Errorf("audit during the transfers: %s", problem)
				return
			}
			n++
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				resp, tr := send(t, []*Region{s.EU, s.US}[len(j.key)%2], j.from, j.to, j.amount, j.key)
				mu.Lock()
				outcomes[resp.Status]++
				if resp.Status == 201 || resp.Status == 202 {
					created = append(created, tr.ID)
				} else if resp.Code() != "insufficient_funds" {
					t.Errorf("transfer %v = %d %s", j, resp.Status, resp.Body)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(auditing)
	if n := <-audits; n == 0 && !t.Failed() {
		t.Errorf("no audit finished while the transfers ran")
	} else {
		t.Logf("%d clean audits while the transfers ran", n)
	}
	for _, id := range created {
		if tr := awaitFinal(t, s.EU, id, 60*time.Second); tr.Status != "completed" {
			t.Errorf("transfer %s = %+v", id, tr)
		}
	}
	total := new(big.Int)
	for _, u := range ids {
		b := getBalance(t, s.US, u)
		v, ok := new(big.Int).SetString(b.Balance, 10)
		if !ok || b.Frozen != "0" || b.Available != b.Balance || v.Sign() < 0 {
			t.Fatalf("user %s at quiescence: %+v", u, b)
		}
		total.Add(total, v)
	}
	if total.Cmp(big.NewInt(users*deposit)) != 0 {
		t.Fatalf("money not conserved: total %s, want %d (outcomes %v)", total, users*deposit, outcomes)
	}
	if outcomes[202] == 0 || len(created) < transfers/2 {
		t.Fatalf("too few transfers ran to prove anything: %v", outcomes)
	}
	s.VerifyLedgers(t)
	t.Logf("outcomes by status: %v", outcomes)
}

// TestForgedTCCMessagesAreDeadLettered: whoever can write to a TCC topic without the
// region pair's key can neither mint money with a credit nor free a pending transfer's
// hold with a refusal. Unsigned and mis-signed messages are dead-lettered at their
// first try; the real transfer completes; no balance moves but by it.
func TestForgedTCCMessagesAreDeadLettered(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_TESTING__RELAY_HOLD__CREDIT=3s")
	sender, receiver := fund(t, s, "eu", "100"), fund(t, s, "us", "0")
	victim := fund(t, s, "eu", "0")
	_, tr := send(t, s.EU, sender, receiver, "40", "real")
	if tr.Status != "pending" {
		t.Fatalf("transfer = %+v, want pending while its credit is held", tr)
	}

	stranger := shard.NewUserID("us")
	mint := fmt.Sprintf(`{"type":"credit","transfer_id":%q,"from_user_id":%q,"to_user_id":%q,"amount":"1000"}`,
		shard.NewTransferID("us", stranger, 256), stranger, victim)
	refuse := fmt.Sprintf(`{"type":"refused","transfer_id":%q,"from_user_id":%q,"to_user_id":%q,"amount":"40","reason":"forged"}`,
		tr.ID, sender, receiver)
	wrongKey := []byte("a key that is not the eu-us pair's")
	topic := s.TopicPrefix + ".eu.tcc"
	forged := []kafka.Message{
		{Topic: topic, Key: []byte("mint-unsigned"), Value: []byte(mint)},
		{Topic: topic, Key: []byte("mint-wrong-key"), Value: []byte(mint), Headers: []kafka.Header{{Key: transfers.SignatureHeader,
			Value: []byte(transfers.Sign(wrongKey, "eu", []byte("mint-wrong-key"), []byte(mint)))}}},
		{Topic: topic, Key: []byte(tr.ID), Value: []byte(refuse), Headers: []kafka.Header{{Key: transfers.SignatureHeader,
			Value: []byte(transfers.Sign(wrongKey, "eu", []byte(tr.ID), []byte(refuse)))}}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafkabus.EnsureTopics(ctx, []string{brokers(t)}, 4, topic); err != nil {
		t.Fatal(err)
	}
	w := kafkabus.NewWriter([]string{brokers(t)})
	defer w.Close()
	if err := w.WriteMessages(ctx, forged...); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "three dead letters", func() bool {
		return s.EU.Metric(t, "wallet_dlq_messages_total") == 3
	})
	code, out := s.EU.CLI(t, "dlq", "list")
	if code != 0 || strings.Count(out, "without a valid signature") != 3 {
		t.Fatalf("dlq list = exit %d:\n%s", code, out)
	}
	if final := awaitFinal(t, s.EU, tr.ID, 30*time.Second); final.Status != "completed" {
		t.Fatalf("the real transfer = %+v, want completed despite a forged refusal", final)
	}
	assertBalance(t, s, sender, "60", "0")
	assertBalance(t, s, receiver, "40", "0")
	assertBalance(t, s, victim, "0", "0")
	s.VerifyLedgers(t)
}

// TestRegionsOverTLSAndSCRAM: regions whose broker demands TLS and a SCRAM login
// (the test broker's secure listener) move money across regions as over plaintext,
// with the identity and the CA from their configuration alone.
func TestRegionsOverTLSAndSCRAM(t *testing.T) {
	t.Parallel()
	secure, caFile := os.Getenv("KAFKA_SECURE_BROKERS"), os.Getenv("KAFKA_CA_FILE")
	if secure == "" || caFile == "" {
		t.Fatal("KAFKA_SECURE_BROKERS and KAFKA_CA_FILE are not set: run the tests with `make test`")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const user, password = "wallet-e2e", "wallet-e2e-scram-password"
	if err := (kafkabus.Client{}).SetSCRAMPassword(ctx, []string{brokers(t)}, user, password); err != nil {
		t.Fatal(err)
	}
	s := StartStack(t, "WALLET_KAFKA__BROKERS="+secure, "WALLET_KAFKA__TLS__ENABLED=true", "WALLET_KAFKA__TLS__CA_FILE="+caFile,
		"WALLET_KAFKA__SASL__MECHANISM=SCRAM-SHA-512", "WALLET_KAFKA__SASL__USERNAME="+user, "WALLET_KAFKA__SASL__PASSWORD="+password)
	from, to := fund(t, s, "eu", "100"), fund(t, s, "us", "0")
	_, tr := send(t, s.EU, from, to, "30", "secure")
	if final := awaitFinal(t, s.EU, tr.ID, 30*time.Second); final.Status != "completed" {
		t.Fatalf("transfer over TLS and SCRAM = %+v", final)
	}
	assertBalance(t, s, from, "70", "0")
	assertBalance(t, s, to, "30", "0")
	s.VerifyLedgers(t)
}
