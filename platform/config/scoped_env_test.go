package config

import (
	"strings"
	"testing"
)

// One environment can carry every region's shard DSNs (wallet audit): with
// FileShardsOnly, a region's file takes the variables of its own shards and peers and
// ignores the others', which would otherwise be shards and peers of its own.
func TestFileShardsOnlyIgnoresOtherRegionsShards(t *testing.T) {
	dir := writeRegion(t, "eu", goodRegion)
	both := append([]string{
		"WALLET_SHARDS__US0__DSN=postgres://a@h/us0",
		"WALLET_SHARDS__US1__DSN=postgres://a@h/us1",
		"WALLET_PEERS__EU__SECRET=us-eu-pair-secret-of-32-characters",
	}, goodEnv...)
	if _, err := Load(Options{Region: "eu", RegionsDir: dir, Environ: both}); err == nil || !strings.Contains(err.Error(), "shard us") && !strings.Contains(err.Error(), "peer") {
		t.Fatalf("without FileShardsOnly: %v, want the other region's shard or peer refused", err)
	}
	cfg, err := Load(Options{Region: "eu", RegionsDir: dir, Environ: both, FileShardsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.ShardList) != 2 || cfg.ShardList[0].DSN != "postgres://a@h/db0" || cfg.ShardList[1].DSN != "postgres://a@h/db1" ||
		len(cfg.Peers) != 1 || cfg.Peers["us"].Secret != euUSSecret {
		t.Fatalf("with FileShardsOnly: shards %+v, peers %+v", cfg.ShardList, cfg.Peers)
	}
}
