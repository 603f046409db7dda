package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"example.com/wallet/platform/kafkabus"
	"example.com/wallet/platform/retry"
)

// baselines are what the same PostgreSQL server and Kafka broker do at best on this
// machine, measured in the same run as the workloads.
type baselines struct {
	PgbenchTPS          float64 `json:"pgbench_tps"`
	HotRowTPS           float64 `json:"hot_row_tps"`
	KafkaRoundTripP50Ms float64 `json:"kafka_roundtrip_p50_ms"`
	KafkaRoundTripP99Ms float64 `json:"kafka_roundtrip_p99_ms"`
}

// baselineDB is the database the baselines use, apart from the wallet's shards.
const baselineDB = "walletbench_baseline"

func measureBaselines(ctx context.Context, o options, s *stack, p *progress) (baselines, error) {
	var b baselines
	dbURL, err := ensureBaselineDB(ctx, s)
	if err != nil {
		return b, err
	}
	if b.PgbenchTPS, err = pgbench(ctx, o, dbURL, p); err != nil {
		return b, err
	}
	if b.HotRowTPS, err = hotRow(ctx, o, dbURL, p); err != nil {
		return b, err
	}
	if b.KafkaRoundTripP50Ms, b.KafkaRoundTripP99Ms, err = kafkaRoundTrip(ctx, o, s, p); err != nil {
		return b, err
	}
	return b, nil
}

// ensureBaselineDB creates the baseline database once and initialises pgbench's
// tables at scale 10 unless they are already there (kept between runs).
func ensureBaselineDB(ctx context.Context, s *stack) (string, error) {
	admin, err := pgx.Connect(ctx, s.pgURL)
	if err != nil {
		return "", fmt.Errorf("baselines: %w", err)
	}
	defer admin.Close(ctx)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, baselineDB).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+baselineDB); err != nil {
			return "", err
		}
	}
	dbURL := withDatabase(s.pgURL, baselineDB)
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var branches int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pgbench_branches`).Scan(&branches); err != nil || branches != 10 {
		init := exec.CommandContext(ctx, "pgbench", "-i", "-q", "-s", "10", dbURL)
		if out, err := init.CombinedOutput(); err != nil {
			return "", fmt.Errorf("pgbench -i: %v\n%s", err, out)
		}
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS walletbench_hot_row (id int PRIMARY KEY, v bigint NOT NULL)`); err != nil {
		return "", err
	}
	_, err = conn.Exec(ctx, `INSERT INTO walletbench_hot_row VALUES (1, 0) ON CONFLICT DO NOTHING`)
	return dbURL, err
}

var tpsRe = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// pgbench runs the TPC-B-like script with prepared statements (as pgx runs the
// wallet's), the benchmark's client count and duration.
func pgbench(ctx context.Context, o options, dbURL string, p *progress) (float64, error) {
	secs := max(1, int(o.duration.Round(time.Second).Seconds()))
	p.start("baseline pgbench", time.Duration(secs)*time.Second, nil)
	defer p.stop()
	cmd := exec.CommandContext(ctx, "pgbench", "-M", "prepared", "-c", itoa(o.clients), "-j", itoa(min(o.clients, 4)), "-T", itoa(secs), dbURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %v\n%s", err, out)
	}
	m := tpsRe.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench printed no tps:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// hotRow is the ceiling of any one account: committed single-row increments of one
// row by every client at once, each its own transaction.
func hotRow(ctx context.Context, o options, dbURL string, p *progress) (float64, error) {
	var count counter
	p.start("baseline hot row", o.duration, &count)
	defer p.stop()
	deadline := time.Now().Add(o.duration)
	var wg sync.WaitGroup
	errs := make(chan error, o.clients)
	for range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.Connect(ctx, dbURL)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close(context.Background())
			for time.Now().Before(deadline) {
				if _, err := conn.Exec(ctx, `UPDATE walletbench_hot_row SET v = v + 1 WHERE id = 1`); err != nil {
					errs <- err
					return
				}
				count.add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, fmt.Errorf("hot row: %w", err)
	}
	return float64(count.load()) / o.duration.Seconds(), nil
}

// kafkaRoundTrip is the floor under one cross-shard transfer: a message produced,
// consumed by a group reader, answered, and the answer consumed, one at a time, with
// the writer and reader the service builds (kafkabus.NewWriter, NewGroupReader). The
// echo commits each offset after answering, as the service commits after handling.
func kafkaRoundTrip(ctx context.Context, o options, s *stack, p *progress) (p50, p99 float64, err error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	prefix := "walletbench." + hex.EncodeToString(b[:])
	ping, pong := prefix+".ping", prefix+".pong"
	partitions := s.regions[benchRegions[0]].cfg.Kafka.Partitions
	if err := kafkabus.EnsureTopics(ctx, s.brokers, partitions, ping, pong); err != nil {
		return 0, 0, err
	}
	defer func() { _ = kafkabus.DeleteTopics(context.Background(), s.brokers, ping, pong) }()
	writer := kafkabus.NewWriter(s.brokers)
	defer writer.Close()
	echoIn := kafkabus.NewGroupReader(s.brokers, ping+".group", ping, nil)
	defer echoIn.Close()
	back := kafkabus.NewGroupReader(s.brokers, pong+".group", pong, nil)
	defer back.Close()

	echoCtx, stopEcho := context.WithCancel(ctx)
	defer stopEcho()
	go func() {
		for {
			m, err := echoIn.FetchMessage(echoCtx)
			if err != nil {
				return
			}
			if err := writer.WriteMessages(echoCtx, kafka.Message{Topic: pong, Key: m.Key, Value: m.Value}); err != nil {
				return
			}
			_ = echoIn.CommitMessages(echoCtx, m)
		}
	}()
	roundTrip := func(ctx context.Context, i int) (time.Duration, error) {
		key := []byte("k" + itoa(i))
		began := time.Now()
		if err := writer.WriteMessages(ctx, kafka.Message{Topic: ping, Key: key, Value: key}); err != nil {
			return 0, err
		}
		for {
			m, err := back.FetchMessage(ctx)
			if err != nil {
				return 0, err
			}
			_ = back.CommitMessages(ctx, m)
			if string(m.Key) == string(key) {
				return time.Since(began), nil
			}
		}
	}
	// Joining two consumer groups takes seconds: the first round trip is set-up, and is
	// tried again while the minute lasts, because a broker under load may not lead the
	// new topics' partitions yet when their metadata already says it does (the writer's
	// own retries give up after about a second and a half).
	joinCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		_, err := roundTrip(joinCtx, 0)
		if err == nil {
			break
		}
		if retry.Sleep(joinCtx, 200*time.Millisecond); joinCtx.Err() != nil {
			return 0, 0, fmt.Errorf("kafka round trip (first, within 60 s): %w", err)
		}
	}
	var count counter
	p.start("baseline kafka round trip", o.duration, &count)
	defer p.stop()
	var lat latencies
	deadline := time.Now().Add(o.duration)
	for i := 1; time.Now().Before(deadline); i++ {
		d, err := roundTrip(ctx, i)
		if err != nil {
			return 0, 0, fmt.Errorf("kafka round trip: %w", err)
		}
		lat = append(lat, d)
		count.add(1)
	}
	sum := lat.summarise()
	return sum.p50, sum.p99, nil
}
