package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/platform/kafkabus"
)

// TestSmoke runs the whole benchmark briefly against a stack of its own (own ports,
// shard databases and topics) and checks that every baseline and workload ran and no
// request failed. It asserts no speed: speed is what `make bench` reports.
func TestSmoke(t *testing.T) {
	server := os.Getenv("WALLET_TEST_PG_URL")
	if server == "" {
		t.Fatal("WALLET_TEST_PG_URL is not set: run the tests with `make test`")
	}
	const dbPrefix = "walletsmoke_"
	dropSmokeDatabases(t, server, dbPrefix)
	t.Cleanup(func() { dropSmokeDatabases(t, server, dbPrefix) })

	var b [4]byte
	_, _ = rand.Read(b[:])
	prefix := "smoke" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if brokers := os.Getenv("KAFKA_BROKERS"); brokers != "" {
			_ = kafkabus.DeleteTopics(context.Background(), strings.Split(brokers, ","),
				prefix+".eu.tcc", prefix+".eu.dlq", prefix+".us.tcc", prefix+".us.dlq")
		}
	})
	out := t.TempDir()
	args := []string{
		"--root", "../..", "--quiet",
		"--clients", "4", "--duration", "1s", "--warmup", "200ms", "--large-history", "2000",
		"--port-base", fmt.Sprint(freePortBase(t)), "--db-prefix", dbPrefix,
		"--topic-prefix", prefix, "--out", out,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if err := run(ctx, args, &stdout, &stderr); err != nil {
		t.Fatalf("walletbench: %v\n%s\n%s", err, stderr.String(), tail(t))
	}

	raw, err := os.ReadFile(filepath.Join(out, "latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res results
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	if !res.Config.StackStarted {
		t.Error("the smoke run used a stack it did not start")
	}
	for name, v := range map[string]float64{"pgbench_tps": res.Baselines.PgbenchTPS, "hot_row_tps": res.Baselines.HotRowTPS, "kafka_roundtrip_p50_ms": res.Baselines.KafkaRoundTripP50Ms} {
		if v <= 0 {
			t.Errorf("baseline %s = %v, want a measurement", name, v)
		}
	}
	for _, name := range workloadNames() {
		w, ok := res.Workloads[name]
		switch {
		case !ok:
			t.Errorf("workload %s did not run", name)
		case w.Errors != 0:
			t.Errorf("workload %s: %d errors: %v", name, w.Errors, w.ErrorKinds)
		case w.Requests == 0 || w.P50Ms <= 0:
			t.Errorf("workload %s: %d requests, p50 %v ms: nothing measured", name, w.Requests, w.P50Ms)
		}
	}
	for name := range ratioTargets {
		if _, ok := res.Ratios[name]; !ok {
			t.Errorf("ratio %s missing from %v", name, res.Ratios)
		}
	}
	if svg, err := os.ReadFile(filepath.Join(out, "latest.svg")); err != nil || !bytes.Contains(svg, []byte("<polyline")) {
		t.Errorf("latest.svg has no latency curves (%v)", err)
	}
}

// freePortBase finds four free loopback ports (base, +1, +10, +11) below the
// ephemeral range, so outgoing connections cannot take them first.
func freePortBase(t *testing.T) int {
	for range 200 {
		base := 20000 + mathrand.IntN(11000)
		free := true
		for _, off := range []int{0, 1, 10, 11} {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+off))
			if err != nil {
				free = false
				break
			}
			ln.Close()
		}
		if free {
			return base
		}
	}
	t.Fatal("no free ports")
	return 0
}

func dropSmokeDatabases(t *testing.T, server, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sh := range []string{"eu0", "eu1", "us0", "us1"} {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+prefix+sh+" WITH (FORCE)"); err != nil {
			t.Fatal(err)
		}
	}
}

// tail returns the end of the regions' logs, for a failure message.
func tail(t *testing.T) string {
	var out bytes.Buffer
	for _, r := range benchRegions {
		b, err := os.ReadFile(filepath.Join("../../.cache/walletbench", "walletsmoke_"+r+".log"))
		if err != nil {
			continue
		}
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		fmt.Fprintf(&out, "--- %s log ---\n%s\n", r, b)
	}
	return out.String()
}
