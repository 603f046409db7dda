package shard

import (
	"testing"

	"example.com/wallet/platform/config"
)

func TestIDs(t *testing.T) {
	u := NewUserID("eu")
	if r, err := UserRegion(u); err != nil || r != "eu" {
		t.Fatalf("UserRegion(%q) = %q, %v", u, r, err)
	}
	sender := NewUserID("us")
	tr := NewTransferID("us", sender, 256)
	if Bucket(tr, 256) != Bucket(sender, 256) {
		t.Fatalf("transfer %s is not in its sender's bucket", tr)
	}
	if r, err := TransferRegion(tr); err != nil || r != "us" {
		t.Fatalf("TransferRegion(%q) = %q, %v", tr, r, err)
	}
	if _, err := UserRegion(tr); err == nil {
		t.Fatalf("a transfer id %q must not parse as a user id", tr)
	}
	for _, bad := range []string{"", "eu", "eu_", "EU_01JD00000000000000000000", "eu_01JD0000000000000000000I", "e_01JD00000000000000000000", "eu_01jd00000000000000000000"} {
		if _, err := UserRegion(bad); err == nil {
			t.Errorf("UserRegion(%q) accepted", bad)
		}
	}
	a := DerivedUserID("eu", "dev", "k1")
	if a != DerivedUserID("eu", "dev", "k1") || a == DerivedUserID("eu", "dev", "k2") || a == DerivedUserID("eu", "other", "k1") {
		t.Fatal("DerivedUserID must depend on exactly gateway and key")
	}
	if !IsUserID(a) {
		t.Fatalf("derived id %q is not a user id", a)
	}
}

func TestEncodeULIDOrdering(t *testing.T) {
	var lo, hi [16]byte
	hi[0] = 1
	lo[15] = 1
	if encodeULID(lo) >= encodeULID(hi) {
		t.Fatal("encoding must keep byte order")
	}
	var ones [16]byte
	for i := range ones {
		ones[i] = 0xff
	}
	if got := encodeULID(ones); got != "7ZZZZZZZZZZZZZZZZZZZZZZZZZ" {
		t.Fatalf("all ones = %s", got)
	}
}

func TestRouterCoversEveryBucket(t *testing.T) {
	cfg := &config.Config{Region: "eu", Buckets: 256, ShardList: []config.ShardSpec{
		{Name: "eu0", FirstBucket: 0, LastBucket: 127},
		{Name: "eu1", FirstBucket: 128, LastBucket: 255},
	}}
	r := NewRouter(cfg)
	seen := map[string]int{}
	for i := 0; i < 2000; i++ {
		id := NewUserID("eu")
		s := r.ShardOf(id)
		if s != r.ShardOf(id) {
			t.Fatal("ShardOf must be stable")
		}
		want := "eu0"
		if Bucket(id, 256) >= 128 {
			want = "eu1"
		}
		if s != want {
			t.Fatalf("ShardOf(%q) = %s, want %s", id, s, want)
		}
		seen[s]++
	}
	if seen["eu0"] < 800 || seen["eu1"] < 800 {
		t.Fatalf("buckets are badly spread: %v", seen)
	}
}

// Transfer ids land in their sender's bucket for any bucket count (including counts
// above the 1024 suffixes the search tries), parse as transfer ids, and do not repeat.
func TestTransferIDsLandInTheSendersBucket(t *testing.T) {
	seen := map[string]bool{}
	for _, buckets := range []int{1, 7, 256, 1000, 4096} {
		for range 2000 {
			sender := NewUserID("eu")
			id := NewTransferID("eu", sender, buckets)
			if Bucket(id, buckets) != Bucket(sender, buckets) {
				t.Fatalf("%s is in bucket %d of %d, its sender %s in %d", id, Bucket(id, buckets), buckets, sender, Bucket(sender, buckets))
			}
			if r, err := TransferRegion(id); err != nil || r != "eu" {
				t.Fatalf("%s does not parse as a transfer id: %q, %v", id, r, err)
			}
			if seen[id] {
				t.Fatalf("%s drawn twice", id)
			}
			seen[id] = true
		}
	}
}

func BenchmarkNewTransferID(b *testing.B) {
	sender := NewUserID("eu")
	for b.Loop() {
		NewTransferID("eu", sender, 256)
	}
}
