package webhooks

import (
	"context"
	"errors"
	"net"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/wallet/modules/webhooks/internal/webhooksdb"
	"example.com/wallet/platform/events"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// The webhooks' refusals; the HTTP edge maps each to its problem.
var (
	// ErrEndpointNotFound: no endpoint with this id belongs to the calling gateway.
	ErrEndpointNotFound = errors.New("webhooks: no such endpoint")
	// ErrDeliveryNotFound: the endpoint has no delivery with this id.
	ErrDeliveryNotFound = errors.New("webhooks: no such delivery")
	// ErrUnknownEventType: an endpoint subscribed to a type that is not an event's.
	ErrUnknownEventType = errors.New("webhooks: unknown event type")
)

// Config is what the webhooks need beyond their database.
type Config struct {
	// Region is this region's name: endpoint ids carry it.
	Region string
	// RetryDelays is the wait after each failed attempt (jittered by up to a fifth
	// either way); a delivery that fails once more after the last is failed for good.
	RetryDelays []time.Duration
	// Timeout bounds one attempt, connection to response headers.
	Timeout time.Duration
	// Senders bounds the deliveries one replica sends at once; PerEndpoint, those to
	// one endpoint in one round of claims, so a slow endpoint cannot take them all.
	Senders, PerEndpoint int
	// AllowInternal accepts http:// and internal addresses (the local profile only).
	AllowInternal bool
	// SecretOverlap is how long a rotated-out secret keeps signing beside the new one.
	SecretOverlap time.Duration
	// LogRetention is how long a delivery that ended stays in the delivery log.
	LogRetention time.Duration
}

// Service registers endpoints and delivers the region's events to them.
type Service struct {
	pool    *pgxpool.Pool
	q       *webhooksdb.Queries
	cfg     Config
	policy  addressPolicy
	client  *httpSender
	metrics *Metrics
}

// NewService builds the webhooks of a region, stored on pool (the region's first
// shard).
func NewService(pool *pgxpool.Pool, cfg Config, metrics *Metrics) *Service {
	policy := addressPolicy{allowInternal: cfg.AllowInternal, resolver: net.DefaultResolver}
	return &Service{pool: pool, q: webhooksdb.New(), cfg: cfg, policy: policy, client: newHTTPSender(policy, cfg.Timeout), metrics: metrics}
}

// Endpoint is a registered endpoint. Secret is set only in the answers of Register
// and RotateSecret: it is shown once, and never listed.
type Endpoint struct {
	ID          string
	URL         string
	EventTypes  []string
	Description string
	Secret      string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func endpointOf(r webhooksdb.WebhookEndpoint) Endpoint {
	e := Endpoint{ID: r.ID, URL: r.Url, EventTypes: r.EventTypes, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.Description != nil {
		e.Description = *r.Description
	}
	return e
}

// Register adds an endpoint for gateway, subscribed to eventTypes (event types of
// platform/events), and returns it with its secret. ErrUnsafeURL and
// ErrUnknownEventType refuse it; nothing is written then.
func (s *Service) Register(ctx context.Context, gateway, rawURL string, eventTypes []string, description string) (Endpoint, error) {
	u, err := s.policy.check(ctx, rawURL)
	if err != nil {
		return Endpoint{}, err
	}
	for _, t := range eventTypes {
		if !slices.Contains(events.Types, t) {
			return Endpoint{}, ErrUnknownEventType
		}
	}
	types := slices.Clone(eventTypes)
	slices.Sort(types)
	types = slices.Compact(types)
	now := time.Now().UTC().Truncate(time.Microsecond)
	e := Endpoint{ID: shard.NewWebhookID(s.cfg.Region), URL: u.String(), EventTypes: types, Description: description,
		Secret: NewSecret(), CreatedAt: now, UpdatedAt: now}
	var desc *string
	if description != "" {
		desc = &description
	}
	err = s.q.InsertEndpoint(ctx, s.pool, webhooksdb.InsertEndpointParams{ID: e.ID, Gateway: gateway, Url: e.URL,
		EventTypes: types, Description: desc, Secret: e.Secret, CreatedAt: now})
	return e, pgdb.InterpretError(err, nil)
}

// List returns gateway's endpoints, oldest first.
func (s *Service) List(ctx context.Context, gateway string) ([]Endpoint, error) {
	rows, err := s.q.ListEndpoints(ctx, s.pool, gateway)
	if err != nil {
		return nil, pgdb.InterpretError(err, nil)
	}
	out := make([]Endpoint, 0, len(rows))
	for _, r := range rows {
		out = append(out, endpointOf(r))
	}
	return out, nil
}

// Get returns one of gateway's endpoints, or ErrEndpointNotFound.
func (s *Service) Get(ctx context.Context, gateway, id string) (Endpoint, error) {
	r, err := s.q.GetEndpoint(ctx, s.pool, webhooksdb.GetEndpointParams{ID: id, Gateway: gateway})
	if err != nil {
		return Endpoint{}, pgdb.InterpretError(err, ErrEndpointNotFound)
	}
	return endpointOf(r), nil
}

// Delete removes one of gateway's endpoints with its deliveries (ErrEndpointNotFound
// when there is none): nothing more is sent to it.
func (s *Service) Delete(ctx context.Context, gateway, id string) error {
	n, err := s.q.DeleteEndpoint(ctx, s.pool, webhooksdb.DeleteEndpointParams{ID: id, Gateway: gateway})
	if err == nil && n == 0 {
		err = ErrEndpointNotFound
	}
	return pgdb.InterpretError(err, nil)
}

// RotateSecret gives one of gateway's endpoints a new secret, returned once. The old
// one keeps signing beside it for Config.SecretOverlap, so a receiver that has not
// switched yet still verifies every delivery.
func (s *Service) RotateSecret(ctx context.Context, gateway, id string) (Endpoint, error) {
	secret := NewSecret()
	until := time.Now().Add(s.cfg.SecretOverlap)
	r, err := s.q.RotateSecret(ctx, s.pool, webhooksdb.RotateSecretParams{ID: id, Gateway: gateway, Secret: secret,
		PreviousExpiresAt: &until})
	if err != nil {
		return Endpoint{}, pgdb.InterpretError(err, ErrEndpointNotFound)
	}
	e := endpointOf(r)
	e.Secret = secret
	return e, nil
}

// Delivery is one event's delivery to one endpoint and what became of it.
type Delivery struct {
	ID             int64
	EventID        string
	EventType      string
	Status         string // pending, delivered or failed
	Attempts       int
	FirstAttemptAt time.Time // zero before the first attempt
	NextAttemptAt  time.Time // while pending
	LastAttemptAt  time.Time // zero before the first attempt
	LastStatusCode int       // 0 when the last attempt got no answer
	LastError      string
	DeliveredAt    time.Time // zero until delivered
	CreatedAt      time.Time
}

// Statuses of a delivery.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusFailed    = "failed"
)

// DeliveryPage is a page of an endpoint's deliveries, newest first; NextBefore is 0
// on the last page.
type DeliveryPage struct {
	Deliveries []Delivery
	NextBefore int64
}

// Deliveries pages through the deliveries of one of gateway's endpoints, newest
// first, below before (0 for the newest).
func (s *Service) Deliveries(ctx context.Context, gateway, endpointID string, before int64, limit int) (DeliveryPage, error) {
	if _, err := s.Get(ctx, gateway, endpointID); err != nil {
		return DeliveryPage{}, err
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.q.ListDeliveries(ctx, s.pool, webhooksdb.ListDeliveriesParams{EndpointID: endpointID, BeforeID: before, PageSize: int32(limit + 1)})
	if err != nil {
		return DeliveryPage{}, pgdb.InterpretError(err, nil)
	}
	var page DeliveryPage
	for _, r := range rows {
		page.Deliveries = append(page.Deliveries, listRow(r).toDelivery())
	}
	if len(page.Deliveries) > limit {
		page.Deliveries = page.Deliveries[:limit]
		page.NextBefore = page.Deliveries[limit-1].ID
	}
	return page, nil
}

// Redeliver sends one delivery of one of gateway's endpoints again, whatever became
// of it, as soon as it heads its user's queue (ErrDeliveryNotFound when the endpoint
// has no such delivery). It is one attempt more, counted with the others: if it fails,
// a delivery that had been given up is failed again, and one still pending goes on
// with its schedule. A delivery being sent at that moment is not sent twice at once:
// the attempt in flight answers the request.
func (s *Service) Redeliver(ctx context.Context, gateway, endpointID string, deliveryID int64) (Delivery, error) {
	if _, err := s.Get(ctx, gateway, endpointID); err != nil {
		return Delivery{}, err
	}
	r, err := s.q.Redeliver(ctx, s.pool, webhooksdb.RedeliverParams{ID: deliveryID, EndpointID: endpointID})
	if errors.Is(err, pgx.ErrNoRows) {
		// In flight, or no such delivery: which, the delivery itself says.
		var row webhooksdb.GetDeliveryRow
		row, err = s.q.GetDelivery(ctx, s.pool, webhooksdb.GetDeliveryParams{ID: deliveryID, EndpointID: endpointID})
		if err == nil {
			return listRow(webhooksdb.ListDeliveriesRow(row)).toDelivery(), nil
		}
	}
	if err != nil {
		return Delivery{}, pgdb.InterpretError(err, ErrDeliveryNotFound)
	}
	return listRow(webhooksdb.ListDeliveriesRow(r)).toDelivery(), nil
}

// listRow is a delivery as the log reads it; sqlc gives the two queries that read
// one their own row types with the same fields.
type listRow webhooksdb.ListDeliveriesRow

func (r listRow) toDelivery() Delivery {
	d := Delivery{ID: r.ID, EventID: r.EventID, EventType: r.EventType, Status: r.Status, Attempts: int(r.Attempts),
		LastError: deref(r.LastError), CreatedAt: r.CreatedAt.UTC()}
	if r.Status == StatusPending {
		d.NextAttemptAt = r.NextAttemptAt.UTC()
	}
	d.FirstAttemptAt, d.LastAttemptAt, d.DeliveredAt = utc(r.FirstAttemptAt), utc(r.LastAttemptAt), utc(r.DeliveredAt)
	if r.LastStatusCode != nil {
		d.LastStatusCode = int(*r.LastStatusCode)
	}
	return d
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
