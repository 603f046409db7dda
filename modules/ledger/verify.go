package ledger

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"

	"example.com/wallet/platform/account"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/ledger/internal/ledgerdb"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// genesisHash is the prev_hash of a user's first entry: 32 zero bytes.
var genesisHash = make([]byte, sha256.Size)

// Drift is one disagreement between a user's snapshot and history, or a broken chain.
type Drift struct {
	UserID  string
	Problem string
}

// Report is the outcome of verifying or rebuilding one shard.
type Report struct {
	Shard   string
	Users   int
	Entries int64
	Drifts  []Drift
	// Rebuilt counts snapshots rewritten by Rebuild.
	Rebuilt int
	// SealsChecked is false when the service has no seal key: the chain was checked,
	// the seals were not.
	SealsChecked bool
	// Sealed counts the histories Seal sealed.
	Sealed int
}

// walkMode is what walk does with each user after checking it.
type walkMode int

const (
	modeVerify  walkMode = iota // report only
	modeRebuild                 // also rewrite a snapshot that disagrees with history
	modeSeal                    // also seal a clean history whose newest entry has no seal
)

// Verify recomputes every snapshot of shard (or only userID's, when not empty) from
// the entries and active holds, and checks sequences, balances-after, the hash chain
// and the seals: every seal must match, and each user's newest entry must be sealed
// (by its own seal, or by Seal for histories older than sealing), which vouches for
// all of its history. Each user is read in one REPEATABLE READ transaction, so
// concurrent writes never show up as drift.
func (s *Service) Verify(ctx context.Context, shardName, userID string) (Report, error) {
	return s.walk(ctx, shardName, userID, modeVerify)
}

// Seal verifies every user of shard as Verify does and seals each clean history whose
// newest entry has no seal: the entries written before the ledger sealed them. It is
// run once, after the seal key is deployed; a history with any problem is reported,
// never sealed.
func (s *Service) Seal(ctx context.Context, shardName string) (Report, error) {
	if s.sealKey == nil {
		return Report{}, errors.New("no seal key: set auth.ledger_seal_secret")
	}
	return s.walk(ctx, shardName, "", modeSeal)
}

// Rebuild rewrites every balance of shard from its entries and holds (balance and
// frozen per currency), under the wallet's lock. It reports what it found before rewriting;
// it cannot mend a broken hash chain, which stays in the report.
func (s *Service) Rebuild(ctx context.Context, shardName string) (Report, error) {
	return s.walk(ctx, shardName, "", modeRebuild)
}

func (s *Service) walk(ctx context.Context, shardName, userID string, mode walkMode) (Report, error) {
	sh, ok := s.shards.Named(shardName)
	if !ok {
		return Report{}, fmt.Errorf("no shard %q in this region", shardName)
	}
	report := Report{Shard: shardName, SealsChecked: s.sealKey != nil}
	if userID == "" && mode != modeRebuild {
		orphans, err := s.q.EntriesWithoutWallet(ctx, sh.Pool)
		if err != nil {
			return report, err
		}
		for _, u := range orphans {
			report.Drifts = append(report.Drifts, Drift{UserID: u, Problem: "entries exist but the user has no wallet"})
		}
	}
	users := []string{userID}
	after := ""
	for {
		if userID == "" {
			var err error
			users, err = s.q.ListWalletUsers(ctx, sh.Pool, ledgerdb.ListWalletUsersParams{After: after, PageSize: 500})
			if err != nil {
				return report, err
			}
			if len(users) == 0 {
				return report, nil
			}
			after = users[len(users)-1]
		}
		for _, u := range users {
			opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
			switch mode {
			case modeRebuild:
				opts = pgx.TxOptions{}
			case modeSeal:
				opts = pgx.TxOptions{IsoLevel: pgx.RepeatableRead}
			}
			err := pgdb.InTxWith(ctx, sh.Pool, opts, func(tx pgx.Tx) error {
				return s.checkUser(ctx, tx, u, mode, &report)
			})
			if err != nil {
				return report, fmt.Errorf("user %s: %w", u, err)
			}
		}
		if userID != "" {
			return report, nil
		}
	}
}

func (s *Service) checkUser(ctx context.Context, tx pgx.Tx, userID string, mode walkMode, report *Report) error {
	rebuild := mode == modeRebuild
	if rebuild {
		// Lock the wallet so no write lands between reading history and rewriting it.
		if _, err := s.q.GetWalletForUpdate(ctx, tx, userID); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
	}
	snap, err := s.q.GetWallet(ctx, tx, userID)
	if errors.Is(err, pgx.ErrNoRows) {
		return shard.ErrUserNotFound
	}
	if err != nil {
		return err
	}
	report.Users++
	drifts := len(report.Drifts)
	drift := func(format string, args ...any) {
		report.Drifts = append(report.Drifts, Drift{UserID: userID, Problem: fmt.Sprintf(format, args...)})
	}
	// Seals of histories older than sealing, by the sequence number they vouch for.
	olderSeals := map[int64][]byte{}
	if s.sealKey != nil {
		rows, err := s.q.ListSeals(ctx, tx, userID)
		if err != nil {
			return err
		}
		for _, r := range rows {
			olderSeals[r.Seq] = r.Seal
		}
	}
	headSealed := false

	snapBalances, err := s.q.BalancesOfUser(ctx, tx, userID)
	if err != nil {
		return err
	}
	running := map[string]money.Amount{} // by currency
	status := account.StatusActive       // what the history's account events say
	seq, prev := int64(0), genesisHash
	for {
		rows, err := s.q.ListEntriesAscending(ctx, tx, ledgerdb.ListEntriesAscendingParams{UserID: userID, AfterSeq: seq, PageSize: 1000})
		if err != nil {
			return err
		}
		for _, row := range rows {
			e, err := fromRow(ledgerdb.ListEntriesRow(row))
			if err != nil {
				return err
			}
			report.Entries++
			if e.Seq != seq+1 {
				drift("sequence jumps from %d to %d", seq, e.Seq)
			}
			if e.HashVersion < 2 && e.Currency != snap.DefaultCurrency {
				// Version 1 hashes do not cover the currency: every such entry was
				// written before currencies, in what became the default.
				drift("entry %d, written before currencies, is in %s, not the default %s", e.Seq, e.Currency, snap.DefaultCurrency)
			}
			balance := running[e.Currency]
			switch e.Kind {
			case KindAccountFrozen, KindAccountUnfrozen, KindAccountClosed:
				if !e.Amount.IsZero() {
					drift("entry %d, an account event, moves %s", e.Seq, e.Amount)
				}
				status = accountStatuses[e.Kind]
			case KindDeposit, KindTransferCredit:
				balance = balance.Add(e.Amount)
			default:
				var ok bool
				if balance, ok = balance.Sub(e.Amount); !ok {
					drift("entry %d takes the %s balance below zero", e.Seq, e.Currency)
				}
			}
			running[e.Currency] = balance
			if e.BalanceAfter.Cmp(balance) != 0 {
				drift("entry %d says balance_after %s, its %s entries sum to %s", e.Seq, e.BalanceAfter, e.Currency, balance)
			}
			if !bytes.Equal(e.PrevHash, prev) {
				drift("entry %d is not chained to entry %d", e.Seq, seq)
			}
			if !bytes.Equal(entryHash(e.PrevHash, e), e.Hash) {
				drift("entry %d's hash does not match its contents", e.Seq)
			}
			if s.sealKey != nil {
				headSealed = false
				for _, seal := range [][]byte{e.Seal, olderSeals[e.Seq]} {
					if seal == nil {
						continue
					}
					if !hmac.Equal(seal, sealOf(s.sealKey, e.Hash)) {
						drift("entry %d's seal does not match: the entry or one before it was rewritten", e.Seq)
					} else {
						headSealed = true
					}
				}
				delete(olderSeals, e.Seq)
			}
			seq, prev = e.Seq, e.Hash
		}
		if len(rows) < 1000 {
			break
		}
	}
	for sealed := range olderSeals {
		drift("entry %d was sealed and is gone: the history was cut short", sealed)
	}
	held := map[string]money.Amount{}
	heldRows, err := s.q.SumActiveHolds(ctx, tx, userID)
	if err != nil {
		return err
	}
	for _, r := range heldRows {
		held[r.Currency] = r.Frozen
	}
	snapshot := map[string]amounts{}
	for _, b := range snapBalances {
		snapshot[b.Currency] = amounts{balance: b.Balance, frozen: b.Frozen}
	}
	currencies := map[string]bool{}
	for _, m := range []map[string]money.Amount{running, held} {
		for c := range m {
			currencies[c] = true
		}
	}
	for c := range snapshot {
		currencies[c] = true
	}
	snapshotRight := true
	for _, c := range slices.Sorted(maps.Keys(currencies)) {
		if snapshot[c].balance.Cmp(running[c]) != 0 {
			drift("%s: snapshot balance %s, entries sum to %s", c, snapshot[c].balance, running[c])
			snapshotRight = false
		}
		if snapshot[c].frozen.Cmp(held[c]) != 0 {
			drift("%s: snapshot frozen %s, active holds sum to %s", c, snapshot[c].frozen, held[c])
			snapshotRight = false
		}
	}
	if snap.Status != status {
		drift("wallet status %s, the history's account events say %s", snap.Status, status)
	}
	if s.sealKey != nil && seq > 0 && !headSealed {
		if mode == modeSeal && len(report.Drifts) == drifts {
			// Only a history with no problem at all is sealed: a seal vouches for it.
			report.Sealed++
			return s.q.InsertSeal(ctx, tx, ledgerdb.InsertSealParams{UserID: userID, Seq: seq, Seal: sealOf(s.sealKey, prev)})
		}
		drift("entry %d, the newest, is not sealed: the history was rewritten, or predates sealing and `wallet ledger seal` has not run", seq)
	}
	if rebuild && !snapshotRight {
		report.Rebuilt++
		var u ledgerdb.SaveBalancesParams
		for c := range currencies {
			u.UserIds = append(u.UserIds, userID)
			u.Currencies = append(u.Currencies, c)
			u.Balances = append(u.Balances, running[c].String())
			u.Frozen = append(u.Frozen, held[c].String())
		}
		return s.q.SaveBalances(ctx, tx, u)
	}
	return nil
}
