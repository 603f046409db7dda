package audit

import (
	"context"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/modules/transfers"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// Ledger is what the audit reads of the ledger, in the audit's transaction on a shard.
// *ledger.Service implements it.
type Ledger interface {
	// AuditTotalsTx sums the shard's entries per currency and kind and its snapshots
	// per currency.
	AuditTotalsTx(ctx context.Context, tx pgx.Tx) (ledger.AuditTotals, error)
	// AuditFrozenTx lists users whose frozen in a currency is not the sum of their
	// active holds in it.
	AuditFrozenTx(ctx context.Context, tx pgx.Tx) ([]ledger.FrozenMismatch, error)
	// AuditBalanceDriftsTx lists users whose balance in a currency is not the sum of
	// their entries in it.
	AuditBalanceDriftsTx(ctx context.Context, tx pgx.Tx) ([]ledger.BalanceDrift, error)
	// AuditTransferEntriesTx returns transfer debits and credits (all when ids is nil).
	AuditTransferEntriesTx(ctx context.Context, tx pgx.Tx, ids []string) ([]ledger.TransferEntry, error)
	// AuditHoldsTx returns holds in every status (all when ids is nil).
	AuditHoldsTx(ctx context.Context, tx pgx.Tx, ids []string) ([]ledger.Hold, error)
}

// Transfers is what the audit reads of the transfers, in the audit's transaction on a
// shard. *transfers.Service implements it.
type Transfers interface {
	// AuditTx returns the shard's transfers and barriers (all when ids is nil).
	AuditTx(ctx context.Context, tx pgx.Tx, ids []string) (transfers.AuditRecords, error)
}

// Region is one region to audit: its open shards and its modules over them.
type Region struct {
	Shards    *pgdb.Shards
	Ledger    Ledger
	Transfers Transfers
}

// Options tune an audit.
type Options struct {
	// PendingOlderThan lists pending transfers created longer ago than this as
	// discrepancies (KindStalePending); zero lists none.
	PendingOlderThan time.Duration
	// RecheckWait is the pause before a transfer that looks wrong is read again
	// (default 1s); Rechecks bounds how many times (default 3), each wait twice the last.
	RecheckWait time.Duration
	Rechecks    int

	// beforeRecheck runs after the first reading and before the first re-check (tests).
	beforeRecheck func()
}

// ShardSummary is what one shard's transaction saw.
type ShardSummary struct {
	Where
	Users   int64 `json:"users"`
	Entries int64 `json:"entries"`
	// Currencies are the shard's sums in every currency it holds a balance or an
	// entry in, sorted by currency; empty (never null) for a shard without either.
	Currencies []ShardCurrency `json:"currencies"`
	Transfers  int             `json:"transfers"`
	Barriers   int             `json:"barriers"`
	Holds      int             `json:"holds"`
}

// ShardCurrency is one shard's snapshots and entries summed in one currency, as its
// transaction saw them: Balance is Deposits - Withdrawals + TransferCredits -
// TransferDebits unless the report holds a shard_totals discrepancy in Currency.
// Amounts are integers in the currency's minor unit, written in decimal.
type ShardCurrency struct {
	Currency        string `json:"currency"`
	Balance         string `json:"balance"`
	Frozen          string `json:"frozen"`
	Deposits        string `json:"deposits"`
	Withdrawals     string `json:"withdrawals"`
	TransferDebits  string `json:"transfer_debits"`
	TransferCredits string `json:"transfer_credits"`
}

// Conservation is the audit's account of all money in one currency: Balances must
// equal Deposits minus Withdrawals plus InFlight (credited, not yet captured) plus
// External (halves of transfers whose other side is in a region not audited) plus
// Skew (transfers that moved between two shards' reads, confirmed by a re-check).
// Unexplained is what is left, and must be zero (above zero: balances hold money
// that nothing explains); when it is not, the report holds a conservation
// discrepancy in Currency. Currencies are never added to each other: nothing
// converts, so money in one cannot explain money in another. Amounts are signed
// integers in the currency's minor unit, written in decimal.
type Conservation struct {
	Currency          string `json:"currency"`
	Balances          string `json:"balances"`
	Deposits          string `json:"deposits"`
	Withdrawals       string `json:"withdrawals"`
	InFlight          string `json:"in_flight"`
	InFlightTransfers int    `json:"in_flight_transfers"`
	External          string `json:"external"`
	Skew              string `json:"skew"`
	Unexplained       string `json:"unexplained"`
}

// TransferSummary counts the transfers the audit judged, by their sender's status.
type TransferSummary struct {
	Total     int `json:"total"`
	Completed int `json:"completed"`
	Cancelled int `json:"cancelled"`
	Pending   int `json:"pending"`
	// Unknown are transfers only a receiver knows (orphans, or senders not audited).
	Unknown int `json:"unknown"`
	// Rechecked looked wrong at first and were read again; Resolved of them were right.
	Rechecked int `json:"rechecked"`
	Resolved  int `json:"resolved"`
}

// Report is an audit's outcome. Clean is true exactly when Discrepancies is empty.
type Report struct {
	Clean   bool           `json:"clean"`
	Regions []string       `json:"regions"`
	Shards  []ShardSummary `json:"shards"`
	// Conservation is the account of all money, one per currency, sorted by
	// currency: every currency a shard holds a balance or an entry in, or a transfer
	// moved. Empty (never null) when the audited regions hold no money record at all.
	Conservation  []Conservation  `json:"conservation"`
	Transfers     TransferSummary `json:"transfers"`
	Discrepancies []Discrepancy   `json:"discrepancies"`
	StartedAt     time.Time       `json:"started_at"`
	TookSeconds   float64         `json:"took_seconds"`
	// ReadSeconds is the part of TookSeconds spent reading every shard the first time
	// (the rest is judging, and re-checking suspects after their waits).
	ReadSeconds float64 `json:"read_seconds"`
}

// ConservationIn returns the account of the money in currency, and false when the
// audit found no record in that currency.
func (r Report) ConservationIn(currency string) (Conservation, bool) {
	for _, c := range r.Conservation {
		if c.Currency == currency {
			return c, true
		}
	}
	return Conservation{}, false
}

// shardRead is everything read from one shard in its one transaction.
type shardRead struct {
	where   Where
	totals  ledger.AuditTotals
	frozen  []ledger.FrozenMismatch
	drifts  []ledger.BalanceDrift
	entries []ledger.TransferEntry
	holds   []ledger.Hold
	records transfers.AuditRecords
}

// auditShard is a shard with the modules that read it.
type auditShard struct {
	where  Where
	shard  *pgdb.Shard
	region *Region
}

// readOnly is the audit's transaction: one snapshot of the whole shard, writing
// nothing and taking no lock that could stop traffic.
var readOnly = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}

// Run audits every shard of regions. Its error means the audit could not read
// everything (a shard unreachable): it judges nothing then. Discrepancies are in the
// report.
func Run(ctx context.Context, regions []Region, opts Options) (Report, error) {
	if opts.RecheckWait <= 0 {
		opts.RecheckWait = time.Second
	}
	if opts.Rechecks <= 0 {
		opts.Rechecks = 3
	}
	started := time.Now()
	report := Report{StartedAt: started.UTC(), Conservation: []Conservation{}, Discrepancies: []Discrepancy{}}
	audited := map[string]*Region{}
	var shards []auditShard
	for i := range regions {
		r := &regions[i]
		name := r.Shards.Router().Region()
		if audited[name] != nil {
			return report, fmt.Errorf("region %s is given twice", name)
		}
		audited[name] = r
		report.Regions = append(report.Regions, name)
		for _, sh := range r.Shards.All() {
			shards = append(shards, auditShard{where: Where{Region: name, Shard: sh.Name}, shard: sh, region: r})
		}
	}
	judge := Judge{
		Audited: func(region string) bool { return audited[region] != nil },
		Locate: func(id string) (Where, bool) {
			region, err := shard.UserRegion(id)
			if err != nil {
				if region, err = shard.TransferRegion(id); err != nil {
					return Where{}, false
				}
			}
			r := audited[region]
			if r == nil {
				return Where{Region: region}, false
			}
			return Where{Region: region, Shard: r.Shards.Router().ShardOf(id)}, true
		},
		Now:              started,
		PendingOlderThan: opts.PendingOlderThan,
	}

	reads, err := readAll(ctx, shards, nil)
	if err != nil {
		return report, err
	}
	report.ReadSeconds = time.Since(started).Seconds()

	// Each shard against itself, currency by currency: one snapshot, so exact without
	// any re-check.
	books := ledgerBooks{}
	for _, rd := range reads {
		t := rd.totals
		summary := ShardSummary{
			Where: rd.where, Users: t.Users, Entries: t.Entries, Currencies: make([]ShardCurrency, 0, len(t.Currencies)),
			Transfers: len(rd.records.Transfers), Barriers: len(rd.records.Barriers), Holds: len(rd.holds),
		}
		for _, cur := range slices.Sorted(maps.Keys(t.Currencies)) {
			ct := t.Currencies[cur]
			summary.Currencies = append(summary.Currencies, ShardCurrency{
				Currency: cur, Balance: ct.Balance.String(), Frozen: ct.Frozen.String(),
				Deposits: ct.Deposits.String(), Withdrawals: ct.Withdrawals.String(),
				TransferDebits: ct.TransferDebits.String(), TransferCredits: ct.TransferCredits.String(),
			})
			b := books.in(cur)
			b.balances.Add(&b.balances, bigOf(ct.Balance))
			b.deposits.Add(&b.deposits, bigOf(ct.Deposits))
			b.withdrawals.Add(&b.withdrawals, bigOf(ct.Withdrawals))
			if off := shardOff(ct); off.Sign() != 0 {
				report.Discrepancies = append(report.Discrepancies, Discrepancy{
					Kind: KindShardTotals, Region: rd.where.Region, Shard: rd.where.Shard, Currency: cur,
					Detail: fmt.Sprintf("in %s, snapshots sum to %s; deposits %s - withdrawals %s + transfer credits %s - transfer debits %s differ by %s",
						cur, ct.Balance, ct.Deposits, ct.Withdrawals, ct.TransferCredits, ct.TransferDebits, off),
				})
			}
		}
		report.Shards = append(report.Shards, summary)
		for _, d := range rd.drifts {
			report.Discrepancies = append(report.Discrepancies, Discrepancy{
				Kind: KindBalanceDrift, Region: rd.where.Region, Shard: rd.where.Shard, Currency: d.Currency, UserID: d.UserID,
				Detail: fmt.Sprintf("snapshot balance %s, entries sum to %s %s", amountIn(d.Balance, d.Currency), d.EntriesTotal, d.Currency),
			})
		}
		for _, m := range rd.frozen {
			report.Discrepancies = append(report.Discrepancies, Discrepancy{
				Kind: KindFrozenMismatch, Region: rd.where.Region, Shard: rd.where.Shard, Currency: m.Currency, UserID: m.UserID,
				Detail: fmt.Sprintf("snapshot frozen %s, active holds sum to %s", amountIn(m.Frozen, m.Currency), amountIn(m.Held, m.Currency)),
			})
		}
	}

	// Every transfer across every shard, judged with all its records.
	facts := gather(reads)
	var suspects []string
	firstNet := map[string]map[string]*big.Int{}
	for id, f := range facts {
		v := Reconcile(*f, judge)
		countStatus(&report.Transfers, v.Status)
		if len(v.Problems) > 0 {
			// Judged again after the re-check, staleness included.
			suspects = append(suspects, id)
			firstNet[id] = v.Net
			continue
		}
		books.account(v)
		if v.Stale != nil {
			report.Discrepancies = append(report.Discrepancies, *v.Stale)
		}
	}
	report.Transfers.Rechecked = len(suspects)
	if len(suspects) > 0 && opts.beforeRecheck != nil {
		opts.beforeRecheck()
	}
	wait := opts.RecheckWait
	var final map[string]Verdict
	for attempt := 0; len(suspects) > 0 && attempt < opts.Rechecks; attempt++ {
		select {
		case <-ctx.Done():
			return report, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
		sort.Strings(suspects)
		again, err := readAll(ctx, shards, suspects)
		if err != nil {
			return report, err
		}
		refacts := gather(again)
		judge.Now = time.Now()
		final = map[string]Verdict{}
		var still []string
		for _, id := range suspects {
			f := refacts[id]
			if f == nil {
				// Gone everywhere: nothing of it is left to disagree.
				f = &Facts{ID: id}
			}
			v := Reconcile(*f, judge)
			if len(v.Problems) > 0 {
				still = append(still, id)
				final[id] = v
				continue
			}
			// Right after all: what it added to the first reading, in each currency, was
			// the moment between two shards' snapshots.
			report.Transfers.Resolved++
			for cur, n := range firstNet[id] {
				b := books.in(cur)
				b.skew.Add(&b.skew, n)
			}
			if v.Stale != nil {
				report.Discrepancies = append(report.Discrepancies, *v.Stale)
			}
		}
		suspects = still
	}
	for _, id := range suspects {
		report.Discrepancies = append(report.Discrepancies, final[id].Problems...)
		if final[id].Stale != nil {
			report.Discrepancies = append(report.Discrepancies, *final[id].Stale)
		}
	}

	// Conservation, per currency and per transfer: whatever the first reading's
	// balances in a currency hold beyond its deposits minus withdrawals must be
	// transfers in flight in it, halves of transfers in regions not audited, or
	// transfers that moved between two reads.
	for _, cur := range slices.Sorted(maps.Keys(books)) {
		c := books[cur].conservation(cur)
		report.Conservation = append(report.Conservation, c)
		if c.Unexplained != "0" {
			report.Discrepancies = append(report.Discrepancies, Discrepancy{
				Kind: KindConservation, Currency: cur,
				Detail: fmt.Sprintf("in %s, balances %s = deposits %s - withdrawals %s + in flight %s + external %s + skew %s leaves %s unexplained",
					cur, c.Balances, c.Deposits, c.Withdrawals, c.InFlight, c.External, c.Skew, c.Unexplained),
			})
		}
	}
	slices.SortStableFunc(report.Discrepancies, func(a, b Discrepancy) int {
		for _, p := range [][2]string{{a.Kind, b.Kind}, {a.Region, b.Region}, {a.Shard, b.Shard}, {a.Currency, b.Currency}, {a.TransferID, b.TransferID}, {a.UserID, b.UserID}} {
			if p[0] != p[1] {
				if p[0] < p[1] {
					return -1
				}
				return 1
			}
		}
		return 0
	})
	report.Clean = len(report.Discrepancies) == 0
	report.TookSeconds = time.Since(started).Seconds()
	return report, nil
}

// currencyBook is conservation's sums in one currency, as the audit adds them up.
type currencyBook struct {
	balances, deposits, withdrawals, inFlight, external, skew big.Int
	inFlightTransfers                                         int
}

// conservation writes the book as the report's account of currency, its unexplained
// left over computed.
func (b *currencyBook) conservation(currency string) Conservation {
	unexplained := new(big.Int).Sub(&b.balances, &b.deposits)
	unexplained.Add(unexplained, &b.withdrawals)
	unexplained.Sub(unexplained, &b.inFlight)
	unexplained.Sub(unexplained, &b.external)
	unexplained.Sub(unexplained, &b.skew)
	return Conservation{
		Currency: currency, Balances: b.balances.String(), Deposits: b.deposits.String(), Withdrawals: b.withdrawals.String(),
		InFlight: b.inFlight.String(), InFlightTransfers: b.inFlightTransfers,
		External: b.external.String(), Skew: b.skew.String(), Unexplained: unexplained.String(),
	}
}

// ledgerBooks are conservation's sums by currency: money in one currency is never
// added to another's.
type ledgerBooks map[string]*currencyBook

// in returns the book of currency, opened empty at its first use.
func (bs ledgerBooks) in(currency string) *currencyBook {
	b := bs[currency]
	if b == nil {
		b = &currencyBook{}
		bs[currency] = b
	}
	return b
}

// account adds a transfer judged right to conservation's explained sums, in each
// currency it moved.
func (bs ledgerBooks) account(v Verdict) {
	switch {
	case v.External:
		for cur, n := range v.Net {
			b := bs.in(cur)
			b.external.Add(&b.external, n)
		}
	case v.InFlight:
		for cur, n := range v.Net {
			b := bs.in(cur)
			b.inFlight.Add(&b.inFlight, n)
		}
		bs.in(v.Currency).inFlightTransfers++
	}
}

func countStatus(s *TransferSummary, status string) {
	s.Total++
	switch status {
	case transfers.StatusCompleted:
		s.Completed++
	case transfers.StatusCancelled:
		s.Cancelled++
	case transfers.StatusPending:
		s.Pending++
	default:
		s.Unknown++
	}
}

// shardOff is how far a shard's snapshots in one currency are from its entries in
// it: balances - (deposits - withdrawals + credits - debits).
func shardOff(t ledger.CurrencyTotals) *big.Int {
	off := bigOf(t.Balance)
	off.Sub(off, bigOf(t.Deposits))
	off.Add(off, bigOf(t.Withdrawals))
	off.Sub(off, bigOf(t.TransferCredits))
	return off.Add(off, bigOf(t.TransferDebits))
}

// shardAgrees reports whether a shard's snapshots sum to its entries in every
// currency.
func shardAgrees(t ledger.AuditTotals) bool {
	for _, ct := range t.Currencies {
		if shardOff(ct).Sign() != 0 {
			return false
		}
	}
	return true
}

// gather groups every transfer record of every shard by transfer id.
func gather(reads []shardRead) map[string]*Facts {
	n := 0
	for _, rd := range reads {
		n += len(rd.records.Transfers)
	}
	facts := make(map[string]*Facts, n)
	of := func(id string) *Facts {
		f := facts[id]
		if f == nil {
			f = &Facts{ID: id}
			facts[id] = f
		}
		return f
	}
	for _, rd := range reads {
		for _, t := range rd.records.Transfers {
			f := of(t.ID)
			f.Transfers = append(f.Transfers, At[transfers.AuditTransfer]{Where: rd.where, Record: t})
		}
		for _, b := range rd.records.Barriers {
			f := of(b.TransferID)
			f.Barriers = append(f.Barriers, At[transfers.AuditBarrier]{Where: rd.where, Record: b})
		}
		for _, e := range rd.entries {
			f := of(e.TransferID)
			f.Entries = append(f.Entries, At[ledger.TransferEntry]{Where: rd.where, Record: e})
		}
		for _, h := range rd.holds {
			f := of(h.TransferID)
			f.Holds = append(f.Holds, At[ledger.Hold]{Where: rd.where, Record: h})
		}
	}
	return facts
}

// readAll reads every shard at once, each in its own one transaction: everything
// when ids is nil, else only the records of the transfers ids.
func readAll(ctx context.Context, shards []auditShard, ids []string) ([]shardRead, error) {
	reads := make([]shardRead, len(shards))
	errs := make([]error, len(shards))
	var wg sync.WaitGroup
	for i, s := range shards {
		wg.Go(func() {
			reads[i], errs[i] = readShard(ctx, s, ids)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("region %s shard %s: %w", shards[i].where.Region, shards[i].where.Shard, err)
		}
	}
	return reads, nil
}

// readShard reads one shard in ONE REPEATABLE READ READ ONLY transaction, so every
// table is seen at the same instant: snapshots with the entries that made them, holds
// with the transfers that took them.
func readShard(ctx context.Context, s auditShard, ids []string) (shardRead, error) {
	var rd shardRead
	err := pgdb.InTxWith(ctx, s.shard.Pool, readOnly, func(tx pgx.Tx) error {
		rd = shardRead{where: s.where}
		var err error
		if ids == nil {
			if rd.totals, err = s.region.Ledger.AuditTotalsTx(ctx, tx); err != nil {
				return err
			}
			if !shardAgrees(rd.totals) {
				// Name the users only when the totals of a currency disagree: it groups
				// the whole ledger by user.
				if rd.drifts, err = s.region.Ledger.AuditBalanceDriftsTx(ctx, tx); err != nil {
					return err
				}
			}
			if rd.frozen, err = s.region.Ledger.AuditFrozenTx(ctx, tx); err != nil {
				return err
			}
		}
		if rd.entries, err = s.region.Ledger.AuditTransferEntriesTx(ctx, tx, ids); err != nil {
			return err
		}
		if rd.holds, err = s.region.Ledger.AuditHoldsTx(ctx, tx, ids); err != nil {
			return err
		}
		rd.records, err = s.region.Transfers.AuditTx(ctx, tx, ids)
		return err
	})
	return rd, err
}
