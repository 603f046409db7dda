// Package config loads one region's configuration into a typed, validated struct.
//
// Sources are layered, later ones winning: built-in defaults, the region's file
// (regions/<region>/wallet.yaml or --config), WALLET_* environment variables, then
// explicit overrides from command-line flags. koanf stays inside this package; the rest
// of the wallet only sees *Config.
package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"

	"example.com/wallet/platform/currency"
)

// Config is everything one region's wallet process needs. It is immutable after Load
// and passed down explicitly; nothing else reads the environment.
type Config struct {
	Region string `koanf:"region"`
	// Profile is "production" (the default) or "local": a region on one machine, for
	// development and tests, which may reach its peers over plain http.
	Profile     string           `koanf:"profile"`
	Buckets     int              `koanf:"buckets"`
	HTTP        HTTP             `koanf:"http"`
	Shards      map[string]Shard `koanf:"shards"`
	Database    Database         `koanf:"database"`
	Kafka       Kafka            `koanf:"kafka"`
	Peers       map[string]Peer  `koanf:"peers"`
	Auth        Auth             `koanf:"auth"`
	Limits      Limits           `koanf:"limits"`
	Idempotency Idempotency      `koanf:"idempotency"`
	Transfers   Transfers        `koanf:"transfers"`
	Webhooks    Webhooks         `koanf:"webhooks"`
	Currencies  Currencies       `koanf:"currencies"`
	Log         Log              `koanf:"log"`
	Tracing     Tracing          `koanf:"tracing"`
	Testing     Testing          `koanf:"testing"`

	// ShardList is Shards ordered by first bucket, filled in by Load after validation.
	ShardList []ShardSpec `koanf:"-"`
	// catalogue is built from Currencies by validate.
	catalogue *currency.Catalogue
}

// Currencies names the region's default unit of account and the assets its operator
// adds to the ISO 4217 currencies (platform/currency).
type Currencies struct {
	// Default is what users created in the region hold, and what a request that names
	// no currency means: an ISO 4217 code (EUR) or an asset's. Required.
	Default string `koanf:"default"`
	// Assets are units beyond ISO 4217, by code (upper-cased: environment variables
	// arrive lower-case), e.g. assets: {POINTS: {exponent: 0, name: Loyalty points}}.
	Assets map[string]Asset `koanf:"assets"`
}

// Asset is an operator-configured unit of account.
type Asset struct {
	// Exponent is how many minor units make one major unit, as a power of ten (0 to 18).
	Exponent int    `koanf:"exponent"`
	Name     string `koanf:"name"`
}

// Catalogue is the region's units of account: ISO 4217, the configured assets and the
// default unit.
func (c *Config) Catalogue() *currency.Catalogue { return c.catalogue }

// HTTP configures the public API listener and the admin (metrics) listener.
type HTTP struct {
	Addr            string        `koanf:"addr"`
	AdminAddr       string        `koanf:"admin_addr"`
	ReadTimeout     time.Duration `koanf:"read_timeout"`
	WriteTimeout    time.Duration `koanf:"write_timeout"`
	IdleTimeout     time.Duration `koanf:"idle_timeout"`
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	MaxBodyBytes    int64         `koanf:"max_body_bytes"`
	// MaxBatchBodyBytes caps the body of POST /v1/batches, which holds up to a
	// thousand requests' bodies.
	MaxBatchBodyBytes int64 `koanf:"max_batch_body_bytes"`
	// RequestTimeout bounds every request (plus what it asks to wait with Prefer): a
	// shard or peer region that hangs silently is answered 503 when it passes.
	RequestTimeout time.Duration `koanf:"request_timeout"`
	MaxHeaderBytes int           `koanf:"max_header_bytes"`
	// Pprof serves Go's profiler under /debug/pprof/ on the admin listener, for
	// profiling under load (walletbench turns it on). Off by default: a profile shows
	// the process's memory.
	Pprof bool `koanf:"pprof"`
}

// Shard is one PostgreSQL database owned by the region and the bucket range it holds.
type Shard struct {
	// Buckets is an inclusive range "first-last" of user buckets.
	Buckets string `koanf:"buckets"`
	// DSN is the PostgreSQL connection string the server uses, as the application
	// role (which may append to the ledger but not change it); in production it comes
	// from a Secret through WALLET_SHARDS__<NAME>__DSN.
	DSN string `koanf:"dsn"`
	// OwnerDSN connects as the tables' owner, for `wallet migrate` only; the migration
	// then grants the DSN's role what the server needs (pgdb.ApplicationPrivileges).
	// Empty means DSN, one role for both (not for production).
	OwnerDSN string `koanf:"owner_dsn"`
	MaxConns int32  `koanf:"max_conns"`
}

// Database bounds every statement the wallet runs on a shard.
type Database struct {
	// AppRole is the role `wallet migrate up` grants the server's privileges to
	// (pgdb.ApplicationPrivileges); empty means the user of each shard's dsn, when it
	// is not the owner.
	AppRole string `koanf:"app_role"`
	// StatementTimeout and LockTimeout are set on every connection: a statement or a
	// lock wait that passes them fails (as unavailable: 503, or retried by consumers)
	// instead of hanging the request or the batch behind it.
	StatementTimeout time.Duration `koanf:"statement_timeout"`
	LockTimeout      time.Duration `koanf:"lock_timeout"`
}

// ShardSpec is a validated shard: its name, its bucket range and its DSN.
type ShardSpec struct {
	Name        string
	FirstBucket int
	LastBucket  int
	DSN         string
	// OwnerDSN is the owner's DSN for migrations: Shard.OwnerDSN, or DSN when empty.
	OwnerDSN string
	MaxConns int32
	// StatementTimeout and LockTimeout come from the database section; zero sets none.
	StatementTimeout, LockTimeout time.Duration
}

// Kafka names the region's brokers and the prefix of its topics.
type Kafka struct {
	Brokers     []string `koanf:"brokers"`
	TopicPrefix string   `koanf:"topic_prefix"`
	Partitions  int      `koanf:"partitions"`
	// TLS and SASL secure every connection to every cluster the region uses (its own
	// and its peers'): one identity for all of them.
	TLS  KafkaTLS  `koanf:"tls"`
	SASL KafkaSASL `koanf:"sasl"`
}

// KafkaTLS turns TLS on for the brokers; CAFile (PEM) replaces the system's roots, and
// ServerName the name the brokers' certificates are checked against.
type KafkaTLS struct {
	Enabled    bool   `koanf:"enabled"`
	CAFile     string `koanf:"ca_file"`
	ServerName string `koanf:"server_name"`
}

// KafkaSASL is the region's identity at the brokers: mechanism SCRAM-SHA-256 or
// SCRAM-SHA-512 (empty: none), the password from a Secret
// (WALLET_KAFKA__SASL__PASSWORD).
type KafkaSASL struct {
	Mechanism string `koanf:"mechanism"`
	Username  string `koanf:"username"`
	Password  string `koanf:"password"`
}

// Peer is another region this one forwards requests and TCC messages to.
type Peer struct {
	URL string `koanf:"url"`
	// Brokers is the Kafka cluster holding the peer's TCC topic; empty means this
	// region's own brokers (one shared cluster).
	Brokers []string `koanf:"brokers"`
	// Secret is known to this region and the peer alone (at least MinSecretLength
	// characters, from a Secret): the credential of requests either forwards to the
	// other and the key of the TCC messages between them are derived from it, so a
	// region that leaks it exposes that one pair, not the others.
	Secret string `koanf:"secret"`
}

// MinSecretLength is the shortest shared secret the wallet accepts: 32 characters,
// about 190 bits when drawn from base64 (`openssl rand -base64 32`).
const MinSecretLength = 32

// Testing holds fault-injection knobs for the e2e tests. Every one is off by default
// and costs nothing when off; production values never set them.
type Testing struct {
	// RelayHold keeps outbox messages of a type (credit, cancel, credited, ...)
	// unpublished until they are this old, so a later message can overtake them.
	RelayHold map[string]time.Duration `koanf:"relay_hold"`
	// RelayDrop marks the first N outbox messages of a type sent without publishing
	// them: a message lost between the outbox and the broker.
	RelayDrop map[string]int `koanf:"relay_drop"`
}

// Auth holds credentials. Gateway tokens are stored only as hex SHA-256 hashes; what
// regions present to each other is derived from Peer.Secret.
type Auth struct {
	GatewayTokens map[string]string `koanf:"gateway_tokens"`
	// GatewayScopes lists what each gateway's token may do, by gateway name: "read"
	// (GETs), "payments" (create users, move money) and "operator" (account controls).
	// A gateway without an entry has DefaultScopes.
	GatewayScopes map[string][]string `koanf:"gateway_scopes"`
	// RegionSecret is this region's own (at least MinSecretLength characters): the key
	// of the TCC messages between its own shards is derived from it.
	RegionSecret string `koanf:"region_secret"`
	// LedgerSealSecret (at least MinSecretLength characters) keys the seals that make
	// the ledger's hash chain evidence against whoever can write the database: keep
	// it where the database's administrators cannot read it.
	LedgerSealSecret string `koanf:"ledger_seal_secret"`
}

// Scopes of gateway tokens (Auth.GatewayScopes).
const (
	ScopeRead     = "read"
	ScopePayments = "payments"
	ScopeOperator = "operator"
)

// DefaultScopes are the rights of a gateway configured without scopes: what every
// gateway could do before scopes existed.
var DefaultScopes = []string{ScopePayments, ScopeRead}

// ScopesOf returns what gateway's token may do (DefaultScopes when not configured).
func (c *Config) ScopesOf(gateway string) []string {
	if s, ok := c.Auth.GatewayScopes[gateway]; ok {
		return s
	}
	return DefaultScopes
}

// LedgerSealKey is the key of the ledger's seals (see LedgerSealSecret).
func (c *Config) LedgerSealKey() []byte {
	return derive(c.Auth.LedgerSealSecret, "wallet ledger seals v1")
}

// ForwardToken is the bearer credential of requests forwarded between this region and
// peer, in either direction; "" when peer is not a peer.
func (c *Config) ForwardToken(peer string) string {
	p, ok := c.Peers[peer]
	if !ok {
		return ""
	}
	return hex.EncodeToString(derive(p.Secret, "wallet forwarded requests v1"))
}

// MessageKey is the key of the TCC messages between this region and region (this
// region itself included); nil when region is neither.
func (c *Config) MessageKey(region string) []byte {
	if region == c.Region {
		return derive(c.Auth.RegionSecret, "wallet tcc messages v1")
	}
	p, ok := c.Peers[region]
	if !ok {
		return nil
	}
	return derive(p.Secret, "wallet tcc messages v1")
}

// derive gives each use of a secret its own key, so a credential seen in one place
// (a forwarded request's header) says nothing of the key used in another (a message
// signature).
func derive(secret, purpose string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(purpose))
	return mac.Sum(nil)
}

// Limits bounds what one user can do per unit of time on money-moving endpoints.
type Limits struct {
	// RatePerSecond and RateBurst bound one user's money-moving requests from one
	// gateway.
	RatePerSecond float64 `koanf:"rate_per_second"`
	RateBurst     int     `koanf:"rate_burst"`
	// GatewayRatePerSecond and ReplicaRatePerSecond bound one gateway's, and all,
	// money-moving requests to one replica.
	GatewayRatePerSecond float64 `koanf:"gateway_rate_per_second"`
	ReplicaRatePerSecond float64 `koanf:"replica_rate_per_second"`
	// MaxTrackedUsers bounds the user buckets a replica keeps (least recently used go).
	MaxTrackedUsers int `koanf:"max_tracked_users"`
}

// Idempotency configures how long idempotency records are kept.
type Idempotency struct {
	Retention time.Duration `koanf:"retention"`
}

// Transfers configures the TCC protocol's timing.
type Transfers struct {
	// TTL is how long a pending transfer waits for the receiver before the
	// coordinator starts a coordinated cancel.
	TTL time.Duration `koanf:"ttl"`
	// MaxTries bounds how often a consumer retries a message that fails permanently
	// before dead-lettering it.
	MaxTries int `koanf:"max_tries"`
	// ResendAfter is how long a pending transfer waits before the recovery sweep sends
	// its step again (the credit before the TTL, the cancel after it); each further
	// attempt waits twice as long, up to ResendMax.
	ResendAfter time.Duration `koanf:"resend_after"`
	ResendMax   time.Duration `koanf:"resend_max"`
	// MaxOutboxAge and MaxLaneBacklog are the back-pressure bounds: while a shard's
	// oldest unpublished outbox message is older, or more inbound messages wait in its
	// consumer lane, new transfers from it to other shards and regions are refused
	// with 503 transfers_backlogged.
	MaxOutboxAge   time.Duration `koanf:"max_outbox_age"`
	MaxLaneBacklog int           `koanf:"max_lane_backlog"`
	// MaxWaiters bounds the requests one replica holds open for Prefer: wait; beyond
	// it they are answered at once (202) and poll.
	MaxWaiters int `koanf:"max_waiters"`
}

// Webhooks configures the delivery of the event stream to gateways' endpoints
// (modules/webhooks).
type Webhooks struct {
	// RetryDelays is the wait after each failed attempt, comma-separated; a delivery
	// that fails once more after the last is given up. The default (Standard
	// Webhooks' schedule) retries for about 27 hours.
	RetryDelays string `koanf:"retry_delays"`
	// Timeout bounds one attempt.
	Timeout time.Duration `koanf:"timeout"`
	// Senders bounds a replica's attempts in flight; PerEndpoint, those it claims for
	// one endpoint at a time.
	Senders     int `koanf:"senders"`
	PerEndpoint int `koanf:"per_endpoint"`
	// SecretOverlap is how long a rotated-out secret keeps signing beside the new one.
	SecretOverlap time.Duration `koanf:"secret_overlap"`
	// LogRetention is how long a delivery that ended (delivered or failed) stays in
	// an endpoint's delivery log.
	LogRetention time.Duration `koanf:"log_retention"`

	delays []time.Duration
}

// Delays is RetryDelays parsed (by Load's validation).
func (w Webhooks) Delays() []time.Duration { return w.delays }

func (w *Webhooks) validate() error {
	w.delays = nil
	for _, f := range strings.Split(w.RetryDelays, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d <= 0 {
			return fmt.Errorf("webhooks.retry_delays: %q is not a positive duration", f)
		}
		w.delays = append(w.delays, d)
	}
	if w.Timeout <= 0 || w.Senders < 1 || w.PerEndpoint < 1 || w.SecretOverlap < 0 || w.LogRetention < time.Hour {
		return errors.New("webhooks.timeout, senders and per_endpoint must be positive, secret_overlap not negative, and log_retention at least 1h")
	}
	return nil
}

// Tracing configures OpenTelemetry tracing (platform/tracing). It is off unless
// OTLPEndpoint is set.
type Tracing struct {
	// OTLPEndpoint is the OTLP/HTTP collector's base URL (http://collector:4318; the
	// traces path /v1/traces is appended unless the URL has a path of its own). Empty
	// turns tracing off: no exporter, and a span costs next to nothing.
	OTLPEndpoint string `koanf:"otlp_endpoint"`
	// SampleRatio is the share of traces that start in this region (no sampled
	// traceparent came in) which are recorded, from 0 to 1. A gateway's sampling
	// decision is always honoured.
	SampleRatio float64 `koanf:"sample_ratio"`
	// ServiceName is the service.name of every span the region exports.
	ServiceName string `koanf:"service_name"`
	// BatchTimeout is the longest a finished span waits before it is exported.
	BatchTimeout time.Duration `koanf:"batch_timeout"`
}

// Log configures structured logging.
type Log struct {
	Level string `koanf:"level"`
}

// TopicTCC is the region's inbound TCC topic.
func (c *Config) TopicTCC(region string) string {
	return c.Kafka.TopicPrefix + "." + region + ".tcc"
}

// TopicEvents is region's event stream (platform/events): every change a gateway
// cares about, as CloudEvents keyed by user id.
func (c *Config) TopicEvents(region string) string {
	return c.Kafka.TopicPrefix + "." + region + ".events"
}

// TopicDLQ is the region's dead-letter topic.
func (c *Config) TopicDLQ(region string) string {
	return c.Kafka.TopicPrefix + "." + region + ".dlq"
}

// BrokersOf returns the brokers holding region's TCC topic.
func (c *Config) BrokersOf(region string) []string {
	if p, ok := c.Peers[region]; ok && len(p.Brokers) > 0 {
		return p.Brokers
	}
	return c.Kafka.Brokers
}

// Regions lists this region and all peers, sorted.
func (c *Config) Regions() []string {
	out := []string{c.Region}
	for name := range c.Peers {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Options says where to load configuration from.
type Options struct {
	// Region selects regions/<Region>/wallet.yaml under RegionsDir unless ConfigPath is set.
	Region string
	// ConfigPath, when set, is read instead of the region directory's file.
	ConfigPath string
	// RegionsDir is the folder holding one sub-folder per region; default "regions".
	RegionsDir string
	// Environ supplies environment variables (os.Environ when nil).
	Environ []string
	// Overrides are dotted keys set by command-line flags; they win over everything.
	Overrides map[string]any
	// ForMigrations loads the configuration of `wallet migrate`, which connects as the
	// tables' owner only: a shard needs owner_dsn (or dsn), and the server's secrets
	// (its DSNs, the region token) are not required, so the migration Job need not
	// receive them.
	ForMigrations bool
	// FileShardsOnly ignores environment variables about shards and peers that the
	// file does not name, so one environment can carry the DSNs of several regions
	// (`wallet audit` loads every region's file in one process).
	FileShardsOnly bool
}

var defaults = map[string]any{
	"buckets":                        256,
	"http.addr":                      "127.0.0.1:8080",
	"http.admin_addr":                "127.0.0.1:9090",
	"http.read_timeout":              "10s",
	"http.write_timeout":             "40s",
	"http.idle_timeout":              "60s",
	"http.shutdown_timeout":          "20s",
	"http.max_body_bytes":            65536,
	"http.max_batch_body_bytes":      1048576,
	"http.max_header_bytes":          16384,
	"http.request_timeout":           "5s",
	"database.statement_timeout":     "5s",
	"database.lock_timeout":          "2s",
	"kafka.topic_prefix":             "wallet",
	"kafka.partitions":               4,
	"limits.rate_per_second":         50.0,
	"limits.rate_burst":              200,
	"limits.gateway_rate_per_second": 10000.0,
	"limits.replica_rate_per_second": 20000.0,
	"limits.max_tracked_users":       100000,
	"idempotency.retention":          "24h",
	"transfers.ttl":                  "30s",
	"transfers.max_tries":            5,
	"transfers.resend_after":         "10s",
	"transfers.resend_max":           "60s",
	"transfers.max_outbox_age":       "10s",
	"transfers.max_lane_backlog":     10000,
	"transfers.max_waiters":          10000,
	"webhooks.retry_delays":          "5s,5m,30m,2h,5h,10h,10h",
	"webhooks.timeout":               "10s",
	"webhooks.senders":               32,
	"webhooks.per_endpoint":          4,
	"webhooks.secret_overlap":        "24h",
	"webhooks.log_retention":         "720h",
	"log.level":                      "info",
	"tracing.otlp_endpoint":          "",
	"tracing.sample_ratio":           1.0,
	"tracing.service_name":           "wallet",
	"tracing.batch_timeout":          "5s",
	"profile":                        "production",
}

var (
	regionName = regexp.MustCompile(`^[a-z]{2,8}$`)
	shardName  = regexp.MustCompile(`^[a-z][a-z0-9]{0,30}$`)
	hexSHA256  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	bucketsRe  = regexp.MustCompile(`^(\d+)-(\d+)$`)
)

// Load reads and validates the configuration. Its error is one line naming the problem,
// fit to print before exiting.
func Load(opts Options) (*Config, error) {
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(defaults, "."), nil); err != nil {
		return nil, err
	}

	path := opts.ConfigPath
	if path == "" {
		if opts.Region == "" {
			return nil, errors.New("no region: pass --region or --config")
		}
		if !regionName.MatchString(opts.Region) {
			return nil, fmt.Errorf("unknown region %q: a region is 2 to 8 lowercase letters", opts.Region)
		}
		dir := opts.RegionsDir
		if dir == "" {
			dir = "regions"
		}
		path = filepath.Join(dir, opts.Region, "wallet.yaml")
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("unknown region %q: no %s", opts.Region, path)
		}
	}
	if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, oneLine(err))
	}

	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	transform := envKey
	if opts.FileShardsOnly {
		transform = func(name, v string) (string, any) {
			key, val := envKey(name, v)
			for _, section := range []string{"shards", "peers"} {
				rest, inSection := strings.CutPrefix(key, section+".")
				if entry, _, ok := strings.Cut(rest, "."); inSection && ok && !k.Exists(section+"."+entry) {
					return "", nil
				}
			}
			return key, val
		}
	}
	envProvider := env.Provider(".", env.Opt{
		Prefix:        "WALLET_",
		TransformFunc: transform,
		EnvironFunc:   func() []string { return environ },
	})
	if err := k.Load(envProvider, nil); err != nil {
		return nil, fmt.Errorf("environment: %w", err)
	}
	if len(opts.Overrides) > 0 {
		if err := k.Load(confmap.Provider(opts.Overrides, "."), nil); err != nil {
			return nil, err
		}
	}

	var cfg Config
	err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{
		Tag: "koanf",
		DecoderConfig: &mapstructure.DecoderConfig{
			DecodeHook: mapstructure.ComposeDecodeHookFunc(
				mapstructure.StringToTimeDurationHookFunc(),
				mapstructure.StringToSliceHookFunc(","),
			),
			WeaklyTypedInput: true,
			ErrorUnused:      true,
			Result:           &cfg,
			TagName:          "koanf",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("config: %w", oneLine(err))
	}
	if opts.Region != "" && cfg.Region != opts.Region {
		return nil, fmt.Errorf("config %s is for region %q, not %q", path, cfg.Region, opts.Region)
	}
	if err := cfg.validate(opts.ForMigrations); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// envKey maps WALLET_SHARDS__EU0__DSN to shards.eu0.dsn. Variables without a "__"
// other than WALLET_REGION, WALLET_BUCKETS and WALLET_PROFILE belong to tooling
// (WALLET_PG_URL, ...) and are ignored, so a typo in a nested key is still caught as
// an unknown key.
func envKey(k, v string) (string, any) {
	name := strings.TrimPrefix(k, "WALLET_")
	if !strings.Contains(name, "__") && name != "REGION" && name != "BUCKETS" && name != "PROFILE" {
		return "", nil
	}
	return strings.ToLower(strings.ReplaceAll(name, "__", ".")), v
}

func (c *Config) validate(forMigrations bool) error {
	if !regionName.MatchString(c.Region) {
		return fmt.Errorf("unknown region %q: a region is 2 to 8 lowercase letters", c.Region)
	}
	if c.Buckets < 1 || c.Buckets > 65536 {
		return fmt.Errorf("buckets is %d: must be between 1 and 65536", c.Buckets)
	}
	if len(c.Shards) == 0 {
		return fmt.Errorf("region %s has no shards", c.Region)
	}
	specs := make([]ShardSpec, 0, len(c.Shards))
	for name, s := range c.Shards {
		if !shardName.MatchString(name) {
			return fmt.Errorf("shard %q: name must be lowercase letters and digits", name)
		}
		switch {
		case forMigrations && strings.TrimSpace(s.OwnerDSN+s.DSN) == "":
			return fmt.Errorf("shard %s has no owner DSN (set shards.%s.owner_dsn or WALLET_SHARDS__%s__OWNER_DSN)", name, name, strings.ToUpper(name))
		case !forMigrations && strings.TrimSpace(s.DSN) == "":
			return fmt.Errorf("shard %s has no DSN (set shards.%s.dsn or WALLET_SHARDS__%s__DSN)", name, name, strings.ToUpper(name))
		}
		m := bucketsRe.FindStringSubmatch(strings.TrimSpace(s.Buckets))
		if m == nil {
			return fmt.Errorf("shard %s: buckets %q is not a range like 0-127", name, s.Buckets)
		}
		first, _ := strconv.Atoi(m[1])
		last, _ := strconv.Atoi(m[2])
		if first > last || last >= c.Buckets {
			return fmt.Errorf("shard %s: bucket range %d-%d is outside 0-%d or reversed", name, first, last, c.Buckets-1)
		}
		maxConns := s.MaxConns
		if maxConns <= 0 {
			maxConns = 10
		}
		owner := s.OwnerDSN
		if strings.TrimSpace(owner) == "" {
			owner = s.DSN
		}
		specs = append(specs, ShardSpec{Name: name, FirstBucket: first, LastBucket: last, DSN: s.DSN, OwnerDSN: owner, MaxConns: maxConns})
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].FirstBucket < specs[j].FirstBucket })
	next := 0
	for i, s := range specs {
		if s.FirstBucket < next {
			return fmt.Errorf("shard %s: buckets %d-%d overlap shard %s", s.Name, s.FirstBucket, s.LastBucket, specs[i-1].Name)
		}
		if s.FirstBucket > next {
			return fmt.Errorf("buckets %d-%d belong to no shard", next, s.FirstBucket-1)
		}
		next = s.LastBucket + 1
	}
	if next != c.Buckets {
		return fmt.Errorf("buckets %d-%d belong to no shard", next, c.Buckets-1)
	}
	for i := range specs {
		specs[i].StatementTimeout, specs[i].LockTimeout = c.Database.StatementTimeout, c.Database.LockTimeout
	}
	c.ShardList = specs

	if len(c.Kafka.Brokers) == 0 {
		return errors.New("kafka.brokers is empty")
	}
	for _, b := range c.Kafka.Brokers {
		if _, port, ok := strings.Cut(b, ":"); !ok || port == "" {
			return fmt.Errorf("kafka broker %q is not host:port", b)
		}
	}
	switch sasl := c.Kafka.SASL; sasl.Mechanism {
	case "":
		if sasl.Username != "" || sasl.Password != "" {
			return errors.New("kafka.sasl has a username or password but no mechanism (SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		if sasl.Username == "" || sasl.Password == "" {
			return fmt.Errorf("kafka.sasl.mechanism %s needs a username and a password (WALLET_KAFKA__SASL__PASSWORD)", sasl.Mechanism)
		}
		if !c.Kafka.TLS.Enabled && c.Profile != "local" {
			return errors.New("kafka.sasl without kafka.tls.enabled would send the region's identity in the clear")
		}
	default:
		return fmt.Errorf("kafka.sasl.mechanism %q is not SCRAM-SHA-256 or SCRAM-SHA-512", sasl.Mechanism)
	}
	switch c.Profile {
	case "production", "local":
	default:
		return fmt.Errorf("profile %q is not production or local", c.Profile)
	}
	secrets := map[string]string{} // secret -> where it is used
	if !forMigrations {
		if len(c.Auth.RegionSecret) < MinSecretLength {
			return fmt.Errorf("auth.region_secret must be at least %d characters (WALLET_AUTH__REGION_SECRET)", MinSecretLength)
		}
		secrets[c.Auth.RegionSecret] = "auth.region_secret"
		if len(c.Auth.LedgerSealSecret) < MinSecretLength {
			return fmt.Errorf("auth.ledger_seal_secret must be at least %d characters (WALLET_AUTH__LEDGER_SEAL_SECRET)", MinSecretLength)
		}
		if c.Auth.LedgerSealSecret == c.Auth.RegionSecret {
			return errors.New("auth.ledger_seal_secret must differ from auth.region_secret")
		}
	}
	for _, name := range sortedKeys(c.Peers) {
		p := c.Peers[name]
		if !regionName.MatchString(name) || name == c.Region {
			return fmt.Errorf("peer region %q is not a valid other region", name)
		}
		if strings.TrimSpace(p.URL) == "" {
			return fmt.Errorf("peer region %s has no url", name)
		}
		u, err := url.Parse(p.URL)
		plainAllowed := u != nil && u.Scheme == "http" && c.Profile == "local"
		if err != nil || u.Host == "" || (u.Scheme != "https" && !plainAllowed) {
			return fmt.Errorf("peer region %s: url %q must be https://host (plain http only with profile local)", name, p.URL)
		}
		if forMigrations {
			continue
		}
		if len(p.Secret) < MinSecretLength {
			return fmt.Errorf("peer region %s: secret must be at least %d characters (WALLET_PEERS__%s__SECRET)", name, MinSecretLength, strings.ToUpper(name))
		}
		if other, reused := secrets[p.Secret]; reused {
			return fmt.Errorf("peer region %s: its secret is also %s's; every region pair needs its own", name, other)
		}
		secrets[p.Secret] = "peer " + name
	}
	if c.Currencies.Default == "" {
		return errors.New("currencies.default names no currency: every region holds money in a default unit (an ISO 4217 code such as EUR, or a configured asset)")
	}
	var assets []currency.Currency
	for _, code := range sortedKeys(c.Currencies.Assets) {
		a := c.Currencies.Assets[code]
		assets = append(assets, currency.Currency{Code: strings.ToUpper(code), Exponent: a.Exponent, Name: a.Name})
	}
	catalogue, err := currency.NewCatalogue(c.Currencies.Default, assets)
	if err != nil {
		return fmt.Errorf("currencies: %w", err)
	}
	c.catalogue = catalogue
	if len(c.Auth.GatewayTokens) == 0 && !forMigrations {
		return errors.New("auth.gateway_tokens names no gateway: every call would be refused (WALLET_AUTH__GATEWAY_TOKENS__<NAME>)")
	}
	for name, h := range c.Auth.GatewayTokens {
		if !hexSHA256.MatchString(h) {
			return fmt.Errorf("gateway token %s is not a lowercase hex SHA-256", name)
		}
	}
	for _, name := range sortedKeys(c.Auth.GatewayScopes) {
		if _, ok := c.Auth.GatewayTokens[name]; !ok && !forMigrations {
			return fmt.Errorf("auth.gateway_scopes.%s: no gateway %s has a token", name, name)
		}
		if len(c.Auth.GatewayScopes[name]) == 0 {
			return fmt.Errorf("auth.gateway_scopes.%s is empty: a token that may do nothing is no gateway (remove its token instead)", name)
		}
		for _, scope := range c.Auth.GatewayScopes[name] {
			switch scope {
			case ScopeRead, ScopePayments, ScopeOperator:
			default:
				return fmt.Errorf("auth.gateway_scopes.%s: unknown scope %q (read, payments, operator)", name, scope)
			}
		}
	}
	if c.HTTP.MaxBodyBytes <= 0 || c.HTTP.MaxBatchBodyBytes <= 0 {
		return errors.New("http.max_body_bytes and http.max_batch_body_bytes must be positive")
	}
	if c.HTTP.RequestTimeout <= 0 || c.HTTP.RequestTimeout+30*time.Second >= c.HTTP.WriteTimeout {
		return errors.New("http.request_timeout must be positive and, plus the longest Prefer wait (30s), shorter than http.write_timeout")
	}
	if c.Database.StatementTimeout <= 0 || c.Database.LockTimeout <= 0 {
		return errors.New("database.statement_timeout and database.lock_timeout must be positive")
	}
	if c.Limits.RatePerSecond <= 0 || c.Limits.RateBurst <= 0 || c.Limits.GatewayRatePerSecond <= 0 ||
		c.Limits.ReplicaRatePerSecond <= 0 || c.Limits.MaxTrackedUsers < 1 {
		return errors.New("limits.rate_per_second, rate_burst, gateway_rate_per_second, replica_rate_per_second and max_tracked_users must be positive")
	}
	if c.Idempotency.Retention < time.Hour {
		return errors.New("idempotency.retention must be at least 1h")
	}
	if c.Transfers.TTL <= 0 || c.Transfers.MaxTries < 1 {
		return errors.New("transfers.ttl must be positive and transfers.max_tries at least 1")
	}
	if c.Transfers.MaxOutboxAge <= 0 || c.Transfers.MaxLaneBacklog < 1 || c.Transfers.MaxWaiters < 0 {
		return errors.New("transfers.max_outbox_age and transfers.max_lane_backlog must be positive")
	}
	if c.Transfers.ResendAfter <= 0 || c.Transfers.ResendMax < c.Transfers.ResendAfter {
		return errors.New("transfers.resend_after must be positive and transfers.resend_max at least as long")
	}
	if err := c.Webhooks.validate(); err != nil {
		return err
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level %q is not debug, info, warn or error", c.Log.Level)
	}
	return c.Tracing.validate()
}

func (t Tracing) validate() error {
	if t.OTLPEndpoint != "" {
		u, err := url.Parse(t.OTLPEndpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("tracing.otlp_endpoint %q is not an http(s)://host[:port] URL", t.OTLPEndpoint)
		}
	}
	if t.SampleRatio < 0 || t.SampleRatio > 1 {
		return fmt.Errorf("tracing.sample_ratio %v is not between 0 and 1", t.SampleRatio)
	}
	if strings.TrimSpace(t.ServiceName) == "" {
		return errors.New("tracing.service_name must not be empty")
	}
	if t.BatchTimeout <= 0 {
		return errors.New("tracing.batch_timeout must be positive")
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// oneLine flattens multi-line errors (mapstructure joins several) into one line.
func oneLine(err error) error {
	return errors.New(strings.Join(strings.Fields(err.Error()), " "))
}
