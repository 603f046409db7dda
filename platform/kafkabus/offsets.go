package kafkabus

import (
	"container/heap"
	"sync"

	"github.com/segmentio/kafka-go"
)

// offsets tracks, per partition, which fetched messages are still being applied, so
// the committed offset never passes one of them: a partition commits up to its oldest
// message not yet done, or past everything fetched when all are done.
type offsets struct {
	mu    sync.Mutex
	parts map[int]*partitionOffsets
}

type partitionOffsets struct {
	outstanding map[int64]int // offset -> fetched copies not yet done
	pending     offsetHeap    // offsets fetched and maybe not done (lazily cleaned)
	next        int64         // one past the highest offset fetched
	committed   int64         // the next offset to read, as last committed
}

func newOffsets() *offsets { return &offsets{parts: map[int]*partitionOffsets{}} }

func (o *offsets) part(p int) *partitionOffsets {
	po, ok := o.parts[p]
	if !ok {
		po = &partitionOffsets{outstanding: map[int64]int{}, committed: -1}
		o.parts[p] = po
	}
	return po
}

// fetched records that offset of partition is being applied.
func (o *offsets) fetched(partition int, offset int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	po := o.part(partition)
	po.outstanding[offset]++
	if po.outstanding[offset] == 1 {
		heap.Push(&po.pending, offset)
	}
	po.next = max(po.next, offset+1)
}

// done records that offset of partition was applied (or dead-lettered).
func (o *offsets) done(partition int, offset int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	po := o.part(partition)
	if po.outstanding[offset] <= 1 {
		delete(po.outstanding, offset)
	} else {
		po.outstanding[offset]--
	}
}

// advanced returns, for each partition whose commit point moved past its last
// commit, the new commit point (the next offset to read), and records it as
// committed.
func (o *offsets) advanced() map[int]int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[int]int64{}
	for p, po := range o.parts {
		for po.pending.Len() > 0 && po.outstanding[po.pending[0]] == 0 {
			heap.Pop(&po.pending)
		}
		point := po.next
		if po.pending.Len() > 0 {
			point = po.pending[0]
		}
		if point > po.committed {
			out[p] = point
			po.committed = point
		}
	}
	return out
}

// uncommit forgets commits that failed, so the next round sends them again.
func (o *offsets) uncommit(msgs []kafka.Message) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range msgs {
		po := o.part(m.Partition)
		if po.committed == m.Offset+1 {
			po.committed = -1
		}
	}
}

type offsetHeap []int64

func (h offsetHeap) Len() int           { return len(h) }
func (h offsetHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h offsetHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *offsetHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *offsetHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
