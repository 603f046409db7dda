package audit

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/modules/transfers"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/shard"
)

// Kinds of discrepancy: stable codes, one per way the books can disagree.
const (
	// KindConservation: all balances are not all deposits minus all withdrawals plus
	// the transfers in flight.
	KindConservation = "conservation"
	// KindShardTotals: a shard's snapshots do not sum to its entries.
	KindShardTotals = "shard_totals"
	// KindBalanceDrift: a user's snapshot balance is not the sum of its entries.
	KindBalanceDrift = "balance_drift"
	// KindFrozenMismatch: a user's frozen is not the sum of its active holds.
	KindFrozenMismatch = "frozen_mismatch"
	// KindMissingCredit: a completed transfer whose receiver has no credit (barrier
	// credited and transfer_credit entry).
	KindMissingCredit = "missing_credit"
	// KindMissingDebit: a completed transfer whose sender has no debit.
	KindMissingDebit = "missing_debit"
	// KindDuplicate: a transfer recorded, credited or debited more than once.
	KindDuplicate = "duplicate"
	// KindCancelledMoved: a cancelled transfer with a credit or a debit.
	KindCancelledMoved = "cancelled_but_moved"
	// KindPendingDebited: a pending transfer whose sender was already debited.
	KindPendingDebited = "pending_but_debited"
	// KindCreditMismatch: a receiver's credited barrier without its credit entry, or
	// the other way round.
	KindCreditMismatch = "credit_record_mismatch"
	// KindOrphanCredit: a credit (barrier or entry) of a transfer its sender does not
	// know.
	KindOrphanCredit = "orphan_credit"
	// KindOrphanDebit: a debit of a transfer its sender does not know.
	KindOrphanDebit = "orphan_debit"
	// KindOrphanBarrier: a refused or cancelled barrier of a transfer its sender does
	// not know.
	KindOrphanBarrier = "orphan_barrier"
	// KindOrphanHold: an active hold whose transfer is not pending (or not known).
	KindOrphanHold = "orphan_hold"
	// KindHoldMismatch: a hold whose status or amount disagrees with its transfer, or a
	// pending transfer without its active hold.
	KindHoldMismatch = "hold_mismatch"
	// KindAmountMismatch: records of one transfer that disagree on its amount or users.
	KindAmountMismatch = "amount_mismatch"
	// KindStalePending: a transfer pending for longer than the audit's bound.
	KindStalePending = "stale_pending"
)

// What a stale pending transfer waits for (Discrepancy.WaitingFor).
const (
	WaitCredit    = "credit"    // the receiver's credit (or refusal)
	WaitCancel    = "cancel"    // the receiver's answer to the cancel the sender asked for
	WaitCapture   = "capture"   // the sender's capture: the receiver credited it
	WaitRelease   = "release"   // the sender's release: the receiver refused or cancelled it
	WaitUnaudited = "unaudited" // the receiver's region was not audited
)

// Where names a shard of a region.
type Where struct {
	Region string `json:"region"`
	Shard  string `json:"shard"`
}

// Discrepancy is one way the books disagree, with the ids needed to investigate it.
type Discrepancy struct {
	Kind       string `json:"kind"`
	Region     string `json:"region,omitempty"`
	Shard      string `json:"shard,omitempty"`
	UserID     string `json:"user_id,omitempty"`
	TransferID string `json:"transfer_id,omitempty"`
	// WaitingFor is the step a stale pending transfer waits for (Wait...).
	WaitingFor string `json:"waiting_for,omitempty"`
	Detail     string `json:"detail"`
}

// At is one record of a transfer and the shard it was read from.
type At[T any] struct {
	Where
	Record T
}

// Facts are every record of one transfer, read from every shard of every audited
// region: its sender's transfer row (exactly one, normally), hold and debit, its
// receiver's barriers and credit.
type Facts struct {
	ID        string
	Transfers []At[transfers.AuditTransfer]
	Barriers  []At[transfers.AuditBarrier]
	Entries   []At[ledger.TransferEntry]
	Holds     []At[ledger.Hold]
}

// Judge is what Reconcile needs besides the facts.
type Judge struct {
	// Audited reports whether a region's shards were read: a transfer whose other
	// side lives in a region not audited is judged on the side that was.
	Audited func(region string) bool
	// Locate returns the shard holding a user or transfer id of an audited region.
	Locate func(id string) (Where, bool)
	// Now and PendingOlderThan decide which pending transfers are stale; a
	// PendingOlderThan of zero lists none.
	Now              time.Time
	PendingOlderThan time.Duration
}

// Verdict is what Reconcile decided about one transfer.
type Verdict struct {
	// Problems are the transfer's discrepancies; empty when its records agree.
	Problems []Discrepancy
	// Stale is set for a pending transfer older than Judge.PendingOlderThan, with the
	// step it waits for. It says nothing against the records, which may all agree.
	Stale *Discrepancy
	// Net is what the transfer adds to all balances as read: its credits minus its
	// debits. Zero for a transfer settled on both sides. Read it, never modify it: a
	// zero Net is shared.
	Net *big.Int
	// Status is the sender's status ("" when the sender does not know the transfer).
	Status string
	// InFlight: pending and credited, not yet captured (Net is its amount).
	InFlight bool
	// External: the sender's or the receiver's region was not audited, so Net is half
	// of a transfer whose other half is elsewhere.
	External bool
}

// Reconcile judges one transfer's records, pure of I/O. The rules, from the sender's
// status:
//   - completed: one debit of the sender, one credited credit barrier and one credit
//     entry of the receiver, no cancel barrier, no hold but a captured one;
//   - cancelled: no debit, no credited barrier, no credit entry, no hold but a
//     released one;
//   - pending: no debit, one active hold; the receiver's credit barrier and entry
//     both present (in flight) or both absent; stale past Judge.PendingOlderThan;
//   - unknown to an audited sender: every credit, debit, barrier and hold is an orphan.
//
// Every record must carry the transfer's amount and users.
func Reconcile(f Facts, j Judge) Verdict {
	v := Verdict{Net: zero}
	problem := func(kind string, w Where, user, format string, args ...any) {
		v.Problems = append(v.Problems, Discrepancy{Kind: kind, Region: w.Region, Shard: w.Shard, UserID: user, TransferID: f.ID, Detail: fmt.Sprintf(format, args...)})
	}
	// A transfer has a record or two of each kind: buffers on the stack hold them.
	var debitBuf, creditBuf [2]At[ledger.TransferEntry]
	debits, credits := debitBuf[:0], creditBuf[:0]
	for _, e := range f.Entries {
		if e.Record.Kind == ledger.KindTransferDebit {
			debits = append(debits, e)
		} else {
			credits = append(credits, e)
		}
	}
	// Most transfers add nothing (no entry, or one debit and one equal credit): sums
	// and signed arithmetic only for the others.
	if settled := len(f.Entries) == 0 || (len(debits) == 1 && len(credits) == 1 && debits[0].Record.Amount.Cmp(credits[0].Record.Amount) == 0); !settled {
		var debited, credited money.Amount
		for _, e := range debits {
			debited = debited.Add(e.Record.Amount)
		}
		for _, e := range credits {
			credited = credited.Add(e.Record.Amount)
		}
		v.Net = new(big.Int).Sub(bigOf(credited), bigOf(debited))
	}
	var creditedBuf, refusedBuf, cancelBuf [1]At[transfers.AuditBarrier]
	creditedBarriers, refused, cancels := creditedBuf[:0], refusedBuf[:0], cancelBuf[:0]
	for _, b := range f.Barriers {
		switch {
		case b.Record.Branch == transfers.MsgCancel:
			cancels = append(cancels, b)
		case b.Record.Outcome == transfers.MsgCredited:
			creditedBarriers = append(creditedBarriers, b)
		default:
			refused = append(refused, b)
		}
	}
	if len(f.Transfers) == 0 {
		senderRegion, _ := shard.TransferRegion(f.ID)
		if !j.Audited(senderRegion) {
			// The sender's region was not read: judge the receiver's side alone.
			v.External = true
			checkCreditRecords(problem, creditedBarriers, credits)
			return v
		}
		for _, b := range creditedBarriers {
			problem(KindOrphanCredit, b.Where, b.Record.ToUserID, "receiver credited %s (barrier) for a transfer its sender's region %s does not know", b.Record.Amount, senderRegion)
		}
		for _, e := range credits {
			problem(KindOrphanCredit, e.Where, e.Record.UserID, "transfer_credit entry of %s for a transfer its sender's region %s does not know", e.Record.Amount, senderRegion)
		}
		for _, e := range debits {
			problem(KindOrphanDebit, e.Where, e.Record.UserID, "transfer_debit entry of %s for a transfer its sender's region %s does not know", e.Record.Amount, senderRegion)
		}
		for _, b := range append(refused, cancels...) {
			problem(KindOrphanBarrier, b.Where, b.Record.ToUserID, "%s barrier (%s) for a transfer its sender's region %s does not know", b.Record.Branch, b.Record.Outcome, senderRegion)
		}
		for _, h := range f.Holds {
			problem(KindOrphanHold, h.Where, h.Record.UserID, "%s hold of %s for a transfer its shard does not know", h.Record.Status, h.Record.Amount)
		}
		return v
	}

	t := f.Transfers[0]
	tr := t.Record
	v.Status = tr.Status
	for _, dup := range f.Transfers[1:] {
		problem(KindDuplicate, dup.Where, dup.Record.FromUserID, "the transfer is also recorded on %s/%s", t.Region, t.Shard)
	}
	receiverRegion := homeRegion(tr.ToUserID)
	receiverAudited := j.Audited(receiverRegion)
	v.External = !receiverAudited
	// Where the receiver lives is only needed to report a problem there.
	receiverAt := Where{Region: receiverRegion}
	locateReceiver := func() {
		if receiverAudited && receiverAt.Shard == "" {
			receiverAt, _ = j.Locate(tr.ToUserID)
		}
	}
	receiverProblem := func(kind, format string, args ...any) {
		locateReceiver()
		problem(kind, receiverAt, tr.ToUserID, format, args...)
	}

	// Every record names the same users and amount.
	for _, e := range f.Entries {
		want := tr.FromUserID
		if e.Record.Kind == ledger.KindTransferCredit {
			want = tr.ToUserID
		}
		if e.Record.Amount.Cmp(tr.Amount) != 0 || e.Record.UserID != want {
			problem(KindAmountMismatch, e.Where, e.Record.UserID, "%s entry of %s for %s; the transfer moves %s from %s to %s", e.Record.Kind, e.Record.Amount, e.Record.UserID, tr.Amount, tr.FromUserID, tr.ToUserID)
		}
	}
	for _, b := range f.Barriers {
		if b.Record.Amount.Cmp(tr.Amount) != 0 || b.Record.ToUserID != tr.ToUserID || b.Record.FromUserID != tr.FromUserID {
			problem(KindAmountMismatch, b.Where, b.Record.ToUserID, "%s barrier of %s from %s to %s; the transfer moves %s from %s to %s", b.Record.Branch, b.Record.Amount, b.Record.FromUserID, b.Record.ToUserID, tr.Amount, tr.FromUserID, tr.ToUserID)
		}
	}
	for _, h := range f.Holds {
		if h.Record.Amount.Cmp(tr.Amount) != 0 || h.Record.UserID != tr.FromUserID {
			problem(KindAmountMismatch, h.Where, h.Record.UserID, "hold of %s on %s; the transfer moves %s from %s", h.Record.Amount, h.Record.UserID, tr.Amount, tr.FromUserID)
		}
	}
	if len(debits) > 1 {
		problem(KindDuplicate, t.Where, tr.FromUserID, "%d transfer_debit entries", len(debits))
	}
	if len(credits) > 1 || len(creditedBarriers) > 1 {
		receiverProblem(KindDuplicate, "%d transfer_credit entries and %d credited barriers", len(credits), len(creditedBarriers))
	}
	var holds [3]int // by status: active, captured, released
	for _, h := range f.Holds {
		switch h.Record.Status {
		case ledger.HoldActive:
			holds[0]++
		case ledger.HoldCaptured:
			holds[1]++
		default:
			holds[2]++
		}
	}

	switch tr.Status {
	case transfers.StatusCompleted:
		if len(debits) == 0 {
			problem(KindMissingDebit, t.Where, tr.FromUserID, "completed, but the sender has no transfer_debit entry")
		}
		if receiverAudited {
			switch {
			case len(creditedBarriers) == 0 && len(credits) == 0:
				receiverProblem(KindMissingCredit, "completed, but the receiver has neither a credited barrier nor a transfer_credit entry")
			case len(creditedBarriers) == 0:
				receiverProblem(KindMissingCredit, "completed and credited in the ledger, but the receiver has no credited barrier")
			case len(credits) == 0:
				receiverProblem(KindMissingCredit, "completed with a credited barrier, but the receiver has no transfer_credit entry")
			}
			for _, b := range cancels {
				problem(KindCancelledMoved, b.Where, tr.ToUserID, "completed, but the receiver also holds a cancel barrier")
			}
		}
		if holds[0]+holds[2] > 0 {
			problem(KindHoldMismatch, t.Where, tr.FromUserID, "completed, but its hold is %s", holdStatuses(f.Holds))
		}
	case transfers.StatusCancelled:
		if len(debits) > 0 {
			problem(KindCancelledMoved, t.Where, tr.FromUserID, "cancelled (%s), but the sender was debited", tr.Reason)
		}
		if receiverAudited && (len(creditedBarriers) > 0 || len(credits) > 0) {
			receiverProblem(KindCancelledMoved, "cancelled (%s), but the receiver was credited (%d barriers, %d entries)", tr.Reason, len(creditedBarriers), len(credits))
		}
		if holds[0] > 0 {
			problem(KindOrphanHold, t.Where, tr.FromUserID, "cancelled (%s), but its hold is still active", tr.Reason)
		}
		if holds[1] > 0 {
			problem(KindHoldMismatch, t.Where, tr.FromUserID, "cancelled (%s), but its hold was captured", tr.Reason)
		}
	case transfers.StatusPending:
		if len(debits) > 0 {
			problem(KindPendingDebited, t.Where, tr.FromUserID, "pending, but the sender was already debited")
		}
		if holds[0] != 1 || len(f.Holds) != 1 {
			problem(KindHoldMismatch, t.Where, tr.FromUserID, "pending, so one active hold is expected; holds: %s", holdStatuses(f.Holds))
		}
		if receiverAudited {
			checkCreditRecords(problem, creditedBarriers, credits)
			v.InFlight = len(credits) == 1 && len(creditedBarriers) == 1 && len(debits) == 0
		}
		if j.PendingOlderThan > 0 && j.Now.Sub(tr.CreatedAt) > j.PendingOlderThan {
			wait, detail := waitingFor(tr, receiverAudited, creditedBarriers, refused, cancels)
			v.Stale = &Discrepancy{
				Kind: KindStalePending, Region: t.Region, Shard: t.Shard, UserID: tr.FromUserID, TransferID: f.ID, WaitingFor: wait,
				Detail: fmt.Sprintf("pending for %s (created %s, %d attempts): %s", j.Now.Sub(tr.CreatedAt).Round(time.Second), tr.CreatedAt.Format(time.RFC3339), tr.Attempts, detail),
			}
		}
	default:
		problem(KindHoldMismatch, t.Where, tr.FromUserID, "unknown status %q", tr.Status)
	}
	return v
}

// checkCreditRecords checks that a receiver's credited barrier and credit entry come
// together (the participant writes both in one transaction).
func checkCreditRecords(problem func(kind string, w Where, user, format string, args ...any), creditedBarriers []At[transfers.AuditBarrier], credits []At[ledger.TransferEntry]) {
	switch {
	case len(creditedBarriers) > 0 && len(credits) == 0:
		b := creditedBarriers[0]
		problem(KindCreditMismatch, b.Where, b.Record.ToUserID, "credited barrier of %s without its transfer_credit entry", b.Record.Amount)
	case len(credits) > 0 && len(creditedBarriers) == 0:
		e := credits[0]
		problem(KindCreditMismatch, e.Where, e.Record.UserID, "transfer_credit entry of %s without its credited barrier", e.Record.Amount)
	}
}

// waitingFor names the step a pending transfer waits for, from what its receiver has
// recorded.
func waitingFor(tr transfers.AuditTransfer, receiverAudited bool, creditedBarriers, refused, cancels []At[transfers.AuditBarrier]) (string, string) {
	switch {
	case !receiverAudited:
		return WaitUnaudited, "the receiver's region was not audited"
	case len(creditedBarriers) > 0:
		return WaitCapture, "the receiver credited it; the sender has not applied the credited reply and captured its hold"
	case len(refused) > 0:
		return WaitRelease, fmt.Sprintf("the receiver refused it (%s); the sender has not applied the refusal and released its hold", refused[0].Record.Reason)
	case len(cancels) > 0:
		return WaitRelease, "the receiver cancelled it; the sender has not applied the cancellation and released its hold"
	case tr.CancelRequestedAt != nil:
		return WaitCancel, fmt.Sprintf("the sender asked the receiver to cancel at %s; the receiver has not answered", tr.CancelRequestedAt.UTC().Format(time.RFC3339))
	default:
		return WaitCredit, "the receiver has not credited or refused it"
	}
}

func holdStatuses(hs []At[ledger.Hold]) string {
	if len(hs) == 0 {
		return "none"
	}
	s := ""
	for i, h := range hs {
		if i > 0 {
			s += ", "
		}
		s += h.Record.Status
	}
	return s
}

// zero is the Net of every transfer that adds nothing.
var zero = new(big.Int)

// homeRegion is the region an id names, its text before the first "_": what
// shard.UserRegion returns for the well-formed ids the service writes, without its
// regular expression, which cost a tenth of the audit per transfer.
func homeRegion(id string) string {
	region, _, _ := strings.Cut(id, "_")
	return region
}

// bigOf converts an amount to a signed integer for the audit's sums.
func bigOf(a money.Amount) *big.Int {
	n, _ := new(big.Int).SetString(a.String(), 10)
	return n
}
