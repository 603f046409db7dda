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

// WalletOpener creates a new user's empty balance in the same transaction as the user,
// so that no user ever exists without one. The ledger implements it.
type WalletOpener interface {
	OpenTx(ctx context.Context, tx pgx.Tx, userID string) error
}

// Service creates and reads the users of one region.
type Service struct {
	shards *pgdb.Shards
	wallet WalletOpener
	q      *accountsdb.Queries
}

// NewService builds the accounts service over the region's shards.
func NewService(shards *pgdb.Shards, wallet WalletOpener) *Service {
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
