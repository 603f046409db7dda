package audit

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/modules/transfers"
	"example.com/wallet/platform/money"
)

// Pure reconciliation: every record of one transfer in, a verdict out, no I/O.

const (
	// cur is every fixture's currency; the cases of a record in another one change it
	// to other.
	cur      = "EUR"
	other    = "USD"
	tid      = "eu_tr_01JDX4AAAAAAAAAAAAAAAAAAAA"
	sender   = "eu_01JDX4SENDERAAAAAAAAAAAAAA"
	receiver = "us_01JDX4REZEVERAAAAAAAAAAAAA"
)

var (
	eu0 = Where{"eu", "eu0"}
	us1 = Where{"us", "us1"}
	t0  = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
)

func tr(status string) At[transfers.AuditTransfer] {
	reason := ""
	if status == transfers.StatusCancelled {
		reason = transfers.ReasonExpired
	}
	return At[transfers.AuditTransfer]{eu0, transfers.AuditTransfer{ID: tid, FromUserID: sender, ToUserID: receiver, Currency: cur, Amount: money.FromInt64(40), Status: status, Reason: reason, CreatedAt: t0}}
}

func barrier(branch, outcome string) At[transfers.AuditBarrier] {
	return At[transfers.AuditBarrier]{us1, transfers.AuditBarrier{TransferID: tid, Branch: branch, ToUserID: receiver, FromUserID: sender, Currency: cur, Amount: money.FromInt64(40), Outcome: outcome}}
}

func debit() At[ledger.TransferEntry] {
	return At[ledger.TransferEntry]{eu0, ledger.TransferEntry{TransferID: tid, Kind: ledger.KindTransferDebit, UserID: sender, Currency: cur, Amount: money.FromInt64(40)}}
}

func credit() At[ledger.TransferEntry] {
	return At[ledger.TransferEntry]{us1, ledger.TransferEntry{TransferID: tid, Kind: ledger.KindTransferCredit, UserID: receiver, Currency: cur, Amount: money.FromInt64(40)}}
}

func hold(status string) At[ledger.Hold] {
	return At[ledger.Hold]{eu0, ledger.Hold{TransferID: tid, UserID: sender, Currency: cur, Amount: money.FromInt64(40), Status: status}}
}

func TestReconcile(t *testing.T) {
	credited := barrier(transfers.MsgCredit, transfers.MsgCredited)
	refused := barrier(transfers.MsgCredit, transfers.MsgRefused)
	cancel := barrier(transfers.MsgCancel, transfers.MsgCancelled)
	wrongAmount := credit()
	wrongAmount.Record.Amount = money.FromInt64(41)
	creditInOther := credit()
	creditInOther.Record.Currency = other
	debitInOther := debit()
	debitInOther.Record.Currency = other
	creditedInOther := barrier(transfers.MsgCredit, transfers.MsgCredited)
	creditedInOther.Record.Currency = other
	holdInOther := hold("active")
	holdInOther.Record.Currency = other
	cancelAsked := tr(transfers.StatusPending)
	asked := t0.Add(time.Minute)
	cancelAsked.Record.CancelRequestedAt = &asked

	type facts struct {
		transfers []At[transfers.AuditTransfer]
		barriers  []At[transfers.AuditBarrier]
		entries   []At[ledger.TransferEntry]
		holds     []At[ledger.Hold]
	}
	cases := []struct {
		name   string
		f      facts
		onlyEU bool
		onlyUS bool
		stale  time.Duration
		// want lists "kind region/shard user" of each problem, in order.
		want []string
		// net is Verdict.Net in cur; nets, when set, is Verdict.Net in every currency.
		net      int64
		nets     map[string]int64
		inFlight bool
		external bool
		waiting  string
	}{
		{name: "completed across regions",
			f: facts{[]At[transfers.AuditTransfer]{tr("completed")}, []At[transfers.AuditBarrier]{credited}, []At[ledger.TransferEntry]{debit(), credit()}, []At[ledger.Hold]{hold("captured")}}},
		{name: "completed on one shard, no hold",
			f: facts{[]At[transfers.AuditTransfer]{tr("completed")}, []At[transfers.AuditBarrier]{credited}, []At[ledger.TransferEntry]{debit(), credit()}, nil}},
		{name: "completed without its credit",
			f:    facts{[]At[transfers.AuditTransfer]{tr("completed")}, nil, []At[ledger.TransferEntry]{debit()}, []At[ledger.Hold]{hold("captured")}},
			want: []string{"missing_credit us/us1 " + receiver}, net: -40},
		{name: "completed with the barrier but no entry",
			f:    facts{[]At[transfers.AuditTransfer]{tr("completed")}, []At[transfers.AuditBarrier]{credited}, []At[ledger.TransferEntry]{debit()}, []At[ledger.Hold]{hold("captured")}},
			want: []string{"missing_credit us/us1 " + receiver}, net: -40},
		{name: "completed without its debit",
			f:    facts{[]At[transfers.AuditTransfer]{tr("completed")}, []At[transfers.AuditBarrier]{credited}, []At[ledger.TransferEntry]{credit()}, []At[ledger.Hold]{hold("captured")}},
			want: []string{"missing_debit eu/eu0 " + sender}, net: 40},
		{name: "completed, credited twice",
			f:    facts{[]At[transfers.AuditTransfer]{tr("completed")}, []At[transfers.AuditBarrier]{credited}, []At[ledger.TransferEntry]{debit(), credit(), credit()}, []At[ledger.Hold]{hold("captured")}},
			want: []string{"duplicate us/us1 " + receiver}, net: 40},
		{name: "completed with an active hold",
			f:    facts{[]At[transfers.AuditTransfer]{tr("completed")}, []At[transfers.AuditBarrier]{credited}, []At[ledger.TransferEntry]{debit(), credit()}, []At[ledger.Hold]{hold("active")}},
			want: []string{"hold_mismatch eu/eu0 " + sender}},
		{name: "completed with a credit of another amount",
			f:    facts{[]At[transfers.AuditTransfer]{tr("completed")}, []At[transfers.AuditBarrier]{credited}, []At[ledger.TransferEntry]{debit(), wrongAmount}, []At[ledger.Hold]{hold("captured")}},
			want: []string{"amount_mismatch us/us1 " + receiver}, net: 1},
		{name: "completed, receiver's region not audited",
			f: facts{[]At[transfers.AuditTransfer]{tr("completed")}, nil, []At[ledger.TransferEntry]{debit()}, []At[ledger.Hold]{hold("captured")}}, onlyEU: true,
			net: -40, external: true},
		{name: "cancelled by refusal",
			f: facts{[]At[transfers.AuditTransfer]{tr("cancelled")}, []At[transfers.AuditBarrier]{refused}, nil, []At[ledger.Hold]{hold("released")}}},
		{name: "cancelled behind a cancel barrier, a late credit refused",
			f: facts{[]At[transfers.AuditTransfer]{tr("cancelled")}, []At[transfers.AuditBarrier]{cancel, refused}, nil, []At[ledger.Hold]{hold("released")}}},
		{name: "cancelled at once, nothing else",
			f: facts{[]At[transfers.AuditTransfer]{tr("cancelled")}, nil, nil, nil}},
		{name: "cancelled but credited",
			f:    facts{[]At[transfers.AuditTransfer]{tr("cancelled")}, []At[transfers.AuditBarrier]{credited}, []At[ledger.TransferEntry]{credit()}, []At[ledger.Hold]{hold("released")}},
			want: []string{"cancelled_but_moved us/us1 " + receiver}, net: 40},
		{name: "cancelled with its hold still active",
			f:    facts{[]At[transfers.AuditTransfer]{tr("cancelled")}, []At[transfers.AuditBarrier]{refused}, nil, []At[ledger.Hold]{hold("active")}},
			want: []string{"orphan_hold eu/eu0 " + sender}},
		{name: "pending, waiting for the credit",
			f: facts{[]At[transfers.AuditTransfer]{tr("pending")}, nil, nil, []At[ledger.Hold]{hold("active")}}},
		{name: "pending and credited: in flight",
			f:   facts{[]At[transfers.AuditTransfer]{tr("pending")}, []At[transfers.AuditBarrier]{credited}, []At[ledger.TransferEntry]{credit()}, []At[ledger.Hold]{hold("active")}},
			net: 40, inFlight: true},
		{name: "pending and credited in the ledger only",
			f:    facts{[]At[transfers.AuditTransfer]{tr("pending")}, nil, []At[ledger.TransferEntry]{credit()}, []At[ledger.Hold]{hold("active")}},
			want: []string{"credit_record_mismatch us/us1 " + receiver}, net: 40},
		{name: "pending without a hold",
			f:    facts{[]At[transfers.AuditTransfer]{tr("pending")}, nil, nil, nil},
			want: []string{"hold_mismatch eu/eu0 " + sender}},
		{name: "pending but debited",
			f:    facts{[]At[transfers.AuditTransfer]{tr("pending")}, nil, []At[ledger.TransferEntry]{debit()}, []At[ledger.Hold]{hold("active")}},
			want: []string{"pending_but_debited eu/eu0 " + sender}, net: -40},
		{name: "pending too long, credited", stale: time.Minute,
			f:   facts{[]At[transfers.AuditTransfer]{tr("pending")}, []At[transfers.AuditBarrier]{credited}, []At[ledger.TransferEntry]{credit()}, []At[ledger.Hold]{hold("active")}},
			net: 40, inFlight: true, waiting: WaitCapture},
		{name: "pending too long, refused", stale: time.Minute,
			f:       facts{[]At[transfers.AuditTransfer]{tr("pending")}, []At[transfers.AuditBarrier]{refused}, nil, []At[ledger.Hold]{hold("active")}},
			waiting: WaitRelease},
		{name: "pending too long, cancel asked", stale: time.Minute,
			f:       facts{[]At[transfers.AuditTransfer]{cancelAsked}, nil, nil, []At[ledger.Hold]{hold("active")}},
			waiting: WaitCancel},
		{name: "pending too long, nothing from the receiver", stale: time.Minute,
			f:       facts{[]At[transfers.AuditTransfer]{tr("pending")}, nil, nil, []At[ledger.Hold]{hold("active")}},
			waiting: WaitCredit},
		{name: "pending, younger than the bound", stale: time.Hour,
			f: facts{[]At[transfers.AuditTransfer]{tr("pending")}, nil, nil, []At[ledger.Hold]{hold("active")}}},
		{name: "orphan credit",
			f:    facts{nil, []At[transfers.AuditBarrier]{credited}, []At[ledger.TransferEntry]{credit()}, nil},
			want: []string{"orphan_credit us/us1 " + receiver, "orphan_credit us/us1 " + receiver}, net: 40},
		{name: "orphan hold and refusal",
			f:    facts{nil, []At[transfers.AuditBarrier]{refused}, nil, []At[ledger.Hold]{hold("active")}},
			want: []string{"orphan_barrier us/us1 " + receiver, "orphan_hold eu/eu0 " + sender}},
		{name: "orphan debit",
			f:    facts{nil, nil, []At[ledger.TransferEntry]{debit()}, nil},
			want: []string{"orphan_debit eu/eu0 " + sender}, net: -40},
		{name: "credit of a sender's region not audited",
			f: facts{nil, []At[transfers.AuditBarrier]{credited}, []At[ledger.TransferEntry]{credit()}, nil}, onlyUS: true,
			net: 40, external: true},
		{name: "completed, credited in another currency",
			f:    facts{[]At[transfers.AuditTransfer]{tr("completed")}, []At[transfers.AuditBarrier]{credited}, []At[ledger.TransferEntry]{debit(), creditInOther}, []At[ledger.Hold]{hold("captured")}},
			want: []string{"currency_mismatch us/us1 " + receiver}, nets: map[string]int64{cur: -40, other: 40}},
		{name: "completed, debited in another currency",
			f:    facts{[]At[transfers.AuditTransfer]{tr("completed")}, []At[transfers.AuditBarrier]{credited}, []At[ledger.TransferEntry]{debitInOther, credit()}, []At[ledger.Hold]{hold("captured")}},
			want: []string{"currency_mismatch eu/eu0 " + sender}, nets: map[string]int64{cur: 40, other: -40}},
		{name: "completed, its credited barrier in another currency",
			f:    facts{[]At[transfers.AuditTransfer]{tr("completed")}, []At[transfers.AuditBarrier]{creditedInOther}, []At[ledger.TransferEntry]{debit(), credit()}, []At[ledger.Hold]{hold("captured")}},
			want: []string{"currency_mismatch us/us1 " + receiver}},
		{name: "pending, its hold in another currency",
			f:    facts{[]At[transfers.AuditTransfer]{tr("pending")}, nil, nil, []At[ledger.Hold]{holdInOther}},
			want: []string{"currency_mismatch eu/eu0 " + sender}},
		{name: "credit of a sender's region not audited, its barrier in another currency",
			f: facts{nil, []At[transfers.AuditBarrier]{creditedInOther}, []At[ledger.TransferEntry]{credit()}, nil}, onlyUS: true,
			want: []string{"currency_mismatch us/us1 " + receiver}, net: 40, external: true},
		{name: "recorded by two shards",
			f:    facts{[]At[transfers.AuditTransfer]{tr("cancelled"), {Where{"eu", "eu1"}, tr("cancelled").Record}}, nil, nil, nil},
			want: []string{"duplicate eu/eu1 " + sender}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			audited := map[string]bool{"eu": !c.onlyUS, "us": !c.onlyEU}
			j := Judge{
				Audited: func(r string) bool { return audited[r] },
				Locate: func(id string) (Where, bool) {
					if id == receiver {
						return us1, true
					}
					return eu0, true
				},
				Now: t0.Add(10 * time.Minute), PendingOlderThan: c.stale,
			}
			v := Reconcile(Facts{ID: tid, Transfers: c.f.transfers, Barriers: c.f.barriers, Entries: c.f.entries, Holds: c.f.holds}, j)
			var got []string
			for _, p := range v.Problems {
				if p.TransferID != tid || p.Detail == "" || p.Currency != cur {
					t.Errorf("problem %+v lacks the transfer id, a detail or the transfer's currency", p)
				}
				got = append(got, fmt.Sprintf("%s %s/%s %s", p.Kind, p.Region, p.Shard, p.UserID))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("problems = %q, want %q", got, c.want)
			}
			wantNets := c.nets
			if wantNets == nil {
				wantNets = map[string]int64{}
				if c.net != 0 {
					wantNets[cur] = c.net
				}
			}
			gotNets := map[string]int64{}
			for code, n := range v.Net {
				gotNets[code] = n.Int64()
			}
			if !maps.Equal(gotNets, wantNets) || v.InFlight != c.inFlight || v.External != c.external || v.Currency != cur {
				t.Errorf("net %v in flight %v external %v currency %q, want %v %v %v %q", gotNets, v.InFlight, v.External, v.Currency, wantNets, c.inFlight, c.external, cur)
			}
			switch {
			case c.waiting == "" && v.Stale != nil:
				t.Errorf("stale = %+v, want none", v.Stale)
			case c.waiting != "" && (v.Stale == nil || v.Stale.WaitingFor != c.waiting || v.Stale.Kind != KindStalePending || v.Stale.Currency != cur || v.Stale.UserID != sender || v.Stale.Shard != "eu0"):
				t.Errorf("stale = %+v, want waiting for %s", v.Stale, c.waiting)
			}
		})
	}
}

// BenchmarkReconcile judges one settled cross-region transfer, the audit's commonest case.
func BenchmarkReconcile(b *testing.B) {
	f := Facts{ID: tid, Transfers: []At[transfers.AuditTransfer]{tr("completed")},
		Barriers: []At[transfers.AuditBarrier]{barrier(transfers.MsgCredit, transfers.MsgCredited)},
		Entries:  []At[ledger.TransferEntry]{debit(), credit()}, Holds: []At[ledger.Hold]{hold("captured")}}
	j := Judge{Audited: func(string) bool { return true }, Locate: func(string) (Where, bool) { return eu0, true }, Now: t0, PendingOlderThan: time.Hour}
	b.ReportAllocs()
	for b.Loop() {
		if v := Reconcile(f, j); len(v.Problems) != 0 {
			b.Fatal(v.Problems)
		}
	}
}
