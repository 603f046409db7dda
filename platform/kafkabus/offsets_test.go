package kafkabus

import (
	"testing"

	"github.com/segmentio/kafka-go"
)

// The commit point of a partition is its oldest message not yet done, or one past the
// last fetched when all are done; it never moves backwards and never passes a message
// that is still being applied, whatever order lanes finish in.
func TestCommitPointNeverPassesAnUnappliedMessage(t *testing.T) {
	o := newOffsets()
	for off := int64(10); off < 15; off++ {
		o.fetched(0, off)
	}
	o.fetched(1, 3)
	if got := o.advanced(); got[0] != 10 || got[1] != 3 {
		t.Fatalf("nothing done: commit points %v, want partition 0 at 10 and 1 at 3", got)
	}
	// Lanes finish out of order: 12 and 13 first, then 10.
	o.done(0, 12)
	o.done(0, 13)
	if got := o.advanced(); len(got) != 0 {
		t.Fatalf("with 10 still applying nothing may advance, got %v", got)
	}
	o.done(0, 10)
	if got := o.advanced(); got[0] != 11 {
		t.Fatalf("after 10: %v, want 11 (11 is still applying)", got)
	}
	o.done(0, 11)
	o.done(0, 14)
	o.done(1, 3)
	if got := o.advanced(); got[0] != 15 || got[1] != 4 {
		t.Fatalf("all done: %v, want 15 and 4", got)
	}
	if got := o.advanced(); len(got) != 0 {
		t.Fatalf("nothing new: %v", got)
	}

	// A redelivery (after a rebalance) of an offset below the commit point never
	// moves it back; a second copy in flight holds it until both are done.
	o.fetched(0, 15)
	o.fetched(0, 15)
	o.fetched(0, 12)
	o.done(0, 12)
	o.done(0, 15)
	if got := o.advanced(); len(got) != 0 {
		t.Fatalf("one copy of 15 still applying: %v", got)
	}
	o.done(0, 15)
	if got := o.advanced(); got[0] != 16 {
		t.Fatalf("both copies done: %v, want 16", got)
	}

	// A commit that failed is sent again.
	o.uncommit([]kafka.Message{{Partition: 0, Offset: 15}})
	if got := o.advanced(); got[0] != 16 {
		t.Fatalf("after a failed commit: %v, want 16 again", got)
	}
}
