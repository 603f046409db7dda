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
	// KindConservation: in one currency, all balances are not all deposits minus all
	// withdrawals plus the transfers in flight.
	KindConservation = "conservation"
	// KindShardTotals: in one currency, a shard's snapshots do not sum to its entries.
	KindShardTotals = "shard_totals"
	// KindBalanceDrift: a user's snapshot balance in one currency is not the sum of
	// its entries in it.
	KindBalanceDrift = "balance_drift"
	// KindFrozenMismatch: a user's frozen in one currency is not the sum of its active
	// holds in it.
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
	// KindCurrencyMismatch: a debit, credit, hold or barrier of a transfer in another
	// currency than the transfer's (or, for a transfer its sender's region was not
	// audited for, a receiver's credit entry and credited barrier in two currencies).
	// Nothing converts between currencies: every record of a transfer is in its one.
	KindCurrencyMismatch = "currency_mismatch"
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
// Every amount its Detail gives is written with its currency ("40 EUR", or "in EUR,"
// before a sum), so that the text alone is enough to act on.
type Discrepancy struct {
	Kind   string `json:"kind"`
	Region string `json:"region,omitempty"`
	Shard  string `json:"shard,omitempty"`
	// Currency is the currency the books disagree in: the transfer's for a transfer's
	// problems (the record's for a record whose transfer is unknown), the one summed or
	// compared for the others.
	Currency   string `json:"currency,omitempty"`
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
	// Net is what the transfer adds to all balances as read, per currency: its credits
	// minus its debits in each currency its entries are in. Nil for a transfer settled
	// on both sides (one debit and one equal credit in one currency) or without
	// entries; it holds no currency whose sum is zero. Read it, never modify it.
	Net map[string]*big.Int
	// Currency is the transfer's currency: its sender's record's, or, when no sender's
	// record was read, that of the receiver's first credit (or of its first other
	// record). "" only for a transfer without any record.
	Currency string
	// Status is the sender's status ("" when the sender does not know the transfer).
	Status string
	// InFlight: pending and credited, not yet captured (Net holds its amount, in
	// Currency).
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
// Every record must carry the transfer's amount, users and currency.
func Reconcile(f Facts, j Judge) Verdict {
	var v Verdict
	problemIn := func(kind string, w Where, currency, user, format string, args ...any) {
		v.Problems = append(v.Problems, Discrepancy{Kind: kind, Region: w.Region, Shard: w.Shard, Currency: currency, UserID: user, TransferID: f.ID, Detail: fmt.Sprintf(format, args...)})
	}
	// Problems of the transfer as a whole are in its currency, set below before any is
	// raised.
	problem := func(kind string, w Where, user, format string, args ...any) {
		problemIn(kind, w, v.Currency, user, format, args...)
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
	// Most transfers add nothing (no entry, or one debit and one equal credit in the
	// same currency): sums, per currency, and signed arithmetic only for the others.
	settled := len(f.Entries) == 0 || (len(debits) == 1 && len(credits) == 1 &&
		debits[0].Record.Amount.Cmp(credits[0].Record.Amount) == 0 && debits[0].Record.Currency == credits[0].Record.Currency)
	if !settled {
		v.Net = netOf(f.Entries)
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
		v.Currency = recordsCurrency(f)
		senderRegion, _ := shard.TransferRegion(f.ID)
		if !j.Audited(senderRegion) {
			// The sender's region was not read: judge the receiver's side alone.
			v.External = true
			checkCreditRecords(problem, creditedBarriers, credits)
			if len(creditedBarriers) > 0 && len(credits) > 0 && creditedBarriers[0].Record.Currency != credits[0].Record.Currency {
				e := credits[0]
				problem(KindCurrencyMismatch, e.Where, e.Record.UserID, "transfer_credit entry of %s, credited barrier of %s",
					amountIn(e.Record.Amount, e.Record.Currency), amountIn(creditedBarriers[0].Record.Amount, creditedBarriers[0].Record.Currency))
			}
			return v
		}
		// Orphans are each in their own currency: nothing says which is the transfer's.
		for _, b := range creditedBarriers {
			problemIn(KindOrphanCredit, b.Where, b.Record.Currency, b.Record.ToUserID, "receiver credited %s (barrier) for a transfer its sender's region %s does not know", amountIn(b.Record.Amount, b.Record.Currency), senderRegion)
		}
		for _, e := range credits {
			problemIn(KindOrphanCredit, e.Where, e.Record.Currency, e.Record.UserID, "transfer_credit entry of %s for a transfer its sender's region %s does not know", amountIn(e.Record.Amount, e.Record.Currency), senderRegion)
		}
		for _, e := range debits {
			problemIn(KindOrphanDebit, e.Where, e.Record.Currency, e.Record.UserID, "transfer_debit entry of %s for a transfer its sender's region %s does not know", amountIn(e.Record.Amount, e.Record.Currency), senderRegion)
		}
		for _, b := range append(refused, cancels...) {
			problemIn(KindOrphanBarrier, b.Where, b.Record.Currency, b.Record.ToUserID, "%s barrier (%s) of %s for a transfer its sender's region %s does not know", b.Record.Branch, b.Record.Outcome, amountIn(b.Record.Amount, b.Record.Currency), senderRegion)
		}
		for _, h := range f.Holds {
			problemIn(KindOrphanHold, h.Where, h.Record.Currency, h.Record.UserID, "%s hold of %s for a transfer its shard does not know", h.Record.Status, amountIn(h.Record.Amount, h.Record.Currency))
		}
		return v
	}

	t := f.Transfers[0]
	tr := t.Record
	v.Status = tr.Status
	v.Currency = tr.Currency
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

	// Every record names the same users, amount and currency. A record in another
	// currency is its own discrepancy, so that an amount that only looks equal (40 USD
	// against 40 EUR) is not mistaken for the transfer's.
	for _, e := range f.Entries {
		want := tr.FromUserID
		if e.Record.Kind == ledger.KindTransferCredit {
			want = tr.ToUserID
		}
		if e.Record.Amount.Cmp(tr.Amount) != 0 || e.Record.UserID != want {
			problem(KindAmountMismatch, e.Where, e.Record.UserID, "%s entry of %s for %s; the transfer moves %s from %s to %s", e.Record.Kind, amountIn(e.Record.Amount, e.Record.Currency), e.Record.UserID, amountIn(tr.Amount, tr.Currency), tr.FromUserID, tr.ToUserID)
		}
		if e.Record.Currency != tr.Currency {
			problem(KindCurrencyMismatch, e.Where, e.Record.UserID, "%s entry of %s for %s; the transfer moves %s", e.Record.Kind, amountIn(e.Record.Amount, e.Record.Currency), e.Record.UserID, amountIn(tr.Amount, tr.Currency))
		}
	}
	for _, b := range f.Barriers {
		if b.Record.Amount.Cmp(tr.Amount) != 0 || b.Record.ToUserID != tr.ToUserID || b.Record.FromUserID != tr.FromUserID {
			problem(KindAmountMismatch, b.Where, b.Record.ToUserID, "%s barrier of %s from %s to %s; the transfer moves %s from %s to %s", b.Record.Branch, amountIn(b.Record.Amount, b.Record.Currency), b.Record.FromUserID, b.Record.ToUserID, amountIn(tr.Amount, tr.Currency), tr.FromUserID, tr.ToUserID)
		}
		if b.Record.Currency != tr.Currency {
			problem(KindCurrencyMismatch, b.Where, b.Record.ToUserID, "%s barrier of %s; the transfer moves %s", b.Record.Branch, amountIn(b.Record.Amount, b.Record.Currency), amountIn(tr.Amount, tr.Currency))
		}
	}
	for _, h := range f.Holds {
		if h.Record.Amount.Cmp(tr.Amount) != 0 || h.Record.UserID != tr.FromUserID {
			problem(KindAmountMismatch, h.Where, h.Record.UserID, "hold of %s on %s; the transfer moves %s from %s", amountIn(h.Record.Amount, h.Record.Currency), h.Record.UserID, amountIn(tr.Amount, tr.Currency), tr.FromUserID)
		}
		if h.Record.Currency != tr.Currency {
			problem(KindCurrencyMismatch, h.Where, h.Record.UserID, "hold of %s on %s; the transfer moves %s", amountIn(h.Record.Amount, h.Record.Currency), h.Record.UserID, amountIn(tr.Amount, tr.Currency))
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
				Kind: KindStalePending, Region: t.Region, Shard: t.Shard, Currency: tr.Currency, UserID: tr.FromUserID, TransferID: f.ID, WaitingFor: wait,
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
		problem(KindCreditMismatch, b.Where, b.Record.ToUserID, "credited barrier of %s without its transfer_credit entry", amountIn(b.Record.Amount, b.Record.Currency))
	case len(credits) > 0 && len(creditedBarriers) == 0:
		e := credits[0]
		problem(KindCreditMismatch, e.Where, e.Record.UserID, "transfer_credit entry of %s without its credited barrier", amountIn(e.Record.Amount, e.Record.Currency))
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

// netOf sums a transfer's entries per currency: credits minus debits, leaving out
// the currencies where they cancel out.
func netOf(entries []At[ledger.TransferEntry]) map[string]*big.Int {
	net := map[string]*big.Int{}
	for _, e := range entries {
		n := net[e.Record.Currency]
		if n == nil {
			n = new(big.Int)
			net[e.Record.Currency] = n
		}
		if e.Record.Kind == ledger.KindTransferDebit {
			n.Sub(n, bigOf(e.Record.Amount))
		} else {
			n.Add(n, bigOf(e.Record.Amount))
		}
	}
	for c, n := range net {
		if n.Sign() == 0 {
			delete(net, c)
		}
	}
	if len(net) == 0 {
		return nil
	}
	return net
}

// recordsCurrency is the currency of a transfer no sender's record was read for: its
// receiver's credit says best what moved, then any other record.
func recordsCurrency(f Facts) string {
	for _, e := range f.Entries {
		if e.Record.Kind == ledger.KindTransferCredit {
			return e.Record.Currency
		}
	}
	switch {
	case len(f.Barriers) > 0:
		return f.Barriers[0].Record.Currency
	case len(f.Entries) > 0:
		return f.Entries[0].Record.Currency
	case len(f.Holds) > 0:
		return f.Holds[0].Record.Currency
	}
	return ""
}

// amountIn writes an amount with its currency ("40 EUR"), as every detail names it.
func amountIn(a money.Amount, currency string) string {
	return a.String() + " " + currency
}

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
