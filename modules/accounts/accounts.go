package accounts

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/accounts/internal/accountsdb"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// User is a wallet holder.
type User struct {
	ID        string
	Region    string
	Status    string
	CreatedAt time.Time
}

// Wallets is what the accounts need of the ledger, in the accounts' own transaction.
// The ledger implements it.
type Wallets interface {
	// OpenTx creates a new user's empty balance, so that no user ever exists without
	// one.
	OpenTx(ctx context.Context, tx pgx.Tx, userID string) error
	// SetStatusTx sets the account's status (platform/account) where every debit and
	// credit is decided, with the event in the user's history, and reports whether it
	// changed.
	SetStatusTx(ctx context.Context, tx pgx.Tx, userID, status string) (bool, error)
}

// Service creates and reads the users of one region.
type Service struct {
	shards *pgdb.Shards
	wallet Wallets
	q      *accountsdb.Queries
}

// NewService builds the accounts service over the region's shards.
func NewService(shards *pgdb.Shards, wallet Wallets) *Service {
	return &Service{shards: shards, wallet: wallet, q: accountsdb.New()}
}

// Create makes a user homed in this region with the given id (see shard.NewUserID and
// shard.DerivedUserID). Creating an id that exists returns the existing user, which is
// what makes a retried create with the same idempotency key return the same user.
func (s *Service) Create(ctx context.Context, id string) (User, error) {
	var u User
	err := pgdb.InTx(ctx, s.shards.For(id).Pool, func(tx pgx.Tx) error {
		row, err := s.q.InsertUser(ctx, tx, accountsdb.InsertUserParams{
			ID: id, Region: s.shards.Router().Region(), CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
		})
		if errors.Is(err, pgx.ErrNoRows) {
			existing, err := s.q.GetUser(ctx, tx, id)
			if err != nil {
				return err
			}
			u = toUser(existing)
			return nil
		}
		if err != nil {
			return err
		}
		u = toUser(row)
		return s.wallet.OpenTx(ctx, tx, id)
	})
	return u, pgdb.InterpretError(err, nil)
}

// SetStatus freezes (account.StatusFrozen), unfreezes (account.StatusActive) or closes
// (account.StatusClosed) a user's account and returns the user as it now is. Setting
// the status it already has changes nothing, so each is idempotent. A closed account
// refuses every change (account.ErrClosed); closing needs a zero balance and nothing
// frozen (account.ErrNotEmpty).
func (s *Service) SetStatus(ctx context.Context, id, status string) (User, error) {
	var u User
	err := pgdb.InTx(ctx, s.shards.For(id).Pool, func(tx pgx.Tx) error {
		changed, err := s.wallet.SetStatusTx(ctx, tx, id, status)
		if err != nil {
			return err
		}
		var row accountsdb.User
		if changed {
			row, err = s.q.SetUserStatus(ctx, tx, accountsdb.SetUserStatusParams{ID: id, Status: status})
		} else {
			row, err = s.q.GetUser(ctx, tx, id)
		}
		u = toUser(row)
		return err
	})
	return u, pgdb.InterpretError(err, shard.ErrUserNotFound)
}

// Get reads a user of this region.
func (s *Service) Get(ctx context.Context, id string) (User, error) {
	row, err := s.q.GetUser(ctx, s.shards.For(id).Pool, id)
	if err != nil {
		return User{}, pgdb.InterpretError(err, shard.ErrUserNotFound)
	}
	return toUser(row), nil
}

func toUser(row accountsdb.User) User {
	return User{ID: row.ID, Region: row.Region, Status: row.Status, CreatedAt: row.CreatedAt.UTC()}
}
