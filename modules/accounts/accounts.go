package accounts

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/accounts/internal/accountsdb"
	"example.com/wallet/platform/account"
	"example.com/wallet/platform/events"
	"example.com/wallet/platform/outbox"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// User is a wallet holder.
type User struct {
	ID     string
	Region string
	// Status and DefaultCurrency are the ledger's: the status where every debit and
	// credit is decided.
	Status          string
	DefaultCurrency string
	CreatedAt       time.Time
}

// Wallets is what the accounts need of the ledger, in the accounts' own transaction.
// The ledger implements it.
type Wallets interface {
	// OpenTx creates a new user's empty wallet, holding defaultCurrency, so that no
	// user ever exists without one.
	OpenTx(ctx context.Context, tx pgx.Tx, userID, defaultCurrency string) error
	// SetStatusTx sets the account's status (platform/account) where every debit and
	// credit is decided, with the event in the user's history, and returns the
	// account as it then is.
	SetStatusTx(ctx context.Context, tx pgx.Tx, userID, status string) (account.State, error)
	// Account reads the account's status and default currency.
	Account(ctx context.Context, userID string) (account.State, error)
}

// Service creates and reads the users of one region.
type Service struct {
	shards          *pgdb.Shards
	wallet          Wallets
	defaultCurrency string
	q               *accountsdb.Queries
}

// NewService builds the accounts service over the region's shards; users it creates
// hold defaultCurrency, the region's (currencies.default).
func NewService(shards *pgdb.Shards, wallet Wallets, defaultCurrency string) *Service {
	return &Service{shards: shards, wallet: wallet, defaultCurrency: defaultCurrency, q: accountsdb.New()}
}

// Create makes a user homed in this region with the given id (see shard.NewUserID and
// shard.DerivedUserID) and announces it on the event stream (events.TypeUserCreated).
// Creating an id that exists returns the existing user, which is what makes a retried
// create with the same idempotency key return the same user.
func (s *Service) Create(ctx context.Context, id string) (User, error) {
	var u User
	existed := false
	err := pgdb.InTx(ctx, s.shards.For(id).Pool, func(tx pgx.Tx) error {
		row, err := s.q.InsertUser(ctx, tx, accountsdb.InsertUserParams{
			ID: id, Region: s.shards.Router().Region(), CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
		})
		if errors.Is(err, pgx.ErrNoRows) {
			existed = true
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.wallet.OpenTx(ctx, tx, id, s.defaultCurrency); err != nil {
			return err
		}
		u = toUser(row, account.State{Status: account.StatusActive, DefaultCurrency: s.defaultCurrency})
		created, err := events.Outbox(u.Region, []events.Event{{ID: id + ":created", Type: events.TypeUserCreated, Subject: id, UserID: id, Time: u.CreatedAt,
			Data: events.UserData{UserID: id, Region: u.Region, DefaultCurrency: u.DefaultCurrency, CreatedAt: events.Timestamp(u.CreatedAt)}}})
		if err != nil {
			return err
		}
		return outbox.EnqueueTx(ctx, tx, created...)
	})
	if err == nil && existed {
		return s.Get(ctx, id)
	}
	return u, pgdb.InterpretError(err, nil)
}

// SetStatus freezes (account.StatusFrozen), unfreezes (account.StatusActive) or closes
// (account.StatusClosed) a user's account and returns the user as it now is. Setting
// the status it already has changes nothing, so each is idempotent. A closed account
// refuses every change (account.ErrClosed); closing needs every balance zero and
// nothing frozen (account.ErrNotEmpty).
func (s *Service) SetStatus(ctx context.Context, id, status string) (User, error) {
	var u User
	err := pgdb.InTx(ctx, s.shards.For(id).Pool, func(tx pgx.Tx) error {
		state, err := s.wallet.SetStatusTx(ctx, tx, id, status)
		if err != nil {
			return err
		}
		row, err := s.q.GetUser(ctx, tx, id)
		u = toUser(row, state)
		return err
	})
	return u, pgdb.InterpretError(err, shard.ErrUserNotFound)
}

// Get reads a user of this region, with its account's status and default currency.
// The user's own row never changes once written, so the two reads need no common
// snapshot.
func (s *Service) Get(ctx context.Context, id string) (User, error) {
	row, err := s.q.GetUser(ctx, s.shards.For(id).Pool, id)
	if err != nil {
		return User{}, pgdb.InterpretError(err, shard.ErrUserNotFound)
	}
	state, err := s.wallet.Account(ctx, id)
	if err != nil {
		return User{}, err
	}
	return toUser(row, state), nil
}

func toUser(row accountsdb.User, state account.State) User {
	return User{ID: row.ID, Region: row.Region, Status: state.Status, DefaultCurrency: state.DefaultCurrency, CreatedAt: row.CreatedAt.UTC()}
}
