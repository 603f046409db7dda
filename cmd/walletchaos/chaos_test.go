package main

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestShortProfile runs the bank under the short profile's faults (about three
// minutes) and fails on any violated invariant. make test runs it alone, after the
// e2e package: it stops and restarts the shared Kafka broker.
func TestShortProfile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	passed, err := run(ctx, []string{"--root", "../..", "--profile", "short", "--out", t.TempDir()}, &stdout, &stderr)
	t.Log(stdout.String())
	if err != nil {
		t.Fatalf("walletchaos: %v\n%s", err, stderr.String())
	}
	if !passed {
		t.Fatalf("an invariant was violated (replay with the seed above)\n%s", stderr.String())
	}
}
