package config

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const goodRegion = `
region: eu
shards:
  eu0: {buckets: "0-127"}
  eu1: {buckets: "128-255"}
kafka: {brokers: ["127.0.0.1:9092"]}
peers:
  us: {url: "https://wallet.us.internal"}
auth:
  gateway_tokens: {dev: c91cbbedf8c712e8e2b7517ddeca8fe4fde839ebd8339e0b2001363002b37712}
currencies: {default: EUR}
`

const (
	euSecret   = "eu-region-secret-of-32-characters!"
	euUSSecret = "eu-us-pair-secret-of-32-characters"
)

var goodEnv = []string{
	"WALLET_SHARDS__EU0__DSN=postgres://a@h/db0",
	"WALLET_SHARDS__EU1__DSN=postgres://a@h/db1",
	"WALLET_AUTH__REGION_SECRET=" + euSecret,
	"WALLET_PEERS__US__SECRET=" + euUSSecret,
	"WALLET_AUTH__LEDGER_SEAL_SECRET=eu-ledger-seal-secret-of-32-chars",
	"WALLET_PG_URL=postgres://tooling/ignored", // tooling variables are not config keys
}

func writeRegion(t *testing.T, name, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name, "wallet.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadLayersFileEnvAndFlags(t *testing.T) {
	dir := writeRegion(t, "eu", goodRegion)
	env := append([]string{"WALLET_HTTP__ADDR=127.0.0.1:1111", "WALLET_KAFKA__BROKERS=a:1,b:2"}, goodEnv...)
	cfg, err := Load(Options{Region: "eu", RegionsDir: dir, Environ: env, Overrides: map[string]any{"http.addr": "127.0.0.1:2222"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "127.0.0.1:2222" {
		t.Errorf("flags must win over env: addr = %s", cfg.HTTP.Addr)
	}
	if strings.Join(cfg.Kafka.Brokers, ",") != "a:1,b:2" {
		t.Errorf("env must win over the file: brokers = %v", cfg.Kafka.Brokers)
	}
	if cfg.Buckets != 256 || cfg.Limits.RateBurst != 200 || cfg.Idempotency.Retention.Hours() != 24 {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if len(cfg.ShardList) != 2 || cfg.ShardList[0].Name != "eu0" || cfg.ShardList[1].FirstBucket != 128 || cfg.ShardList[1].DSN != "postgres://a@h/db1" {
		t.Errorf("shards = %+v", cfg.ShardList)
	}
	if cfg.TopicTCC("us") != "wallet.us.tcc" || strings.Join(cfg.Regions(), ",") != "eu,us" {
		t.Errorf("topics or regions wrong: %s %v", cfg.TopicTCC("us"), cfg.Regions())
	}
}

func TestBadConfigIsOneLineNamingTheProblem(t *testing.T) {
	cases := []struct {
		name, region, file string
		env                []string
		want               string
	}{
		{"unknown region", "zz", goodRegion, goodEnv, `unknown region "zz"`},
		{"malformed region", "EU!", goodRegion, goodEnv, `unknown region "EU!"`},
		{"shard without DSN", "eu", goodRegion, goodEnv[1:], "shard eu0 has no DSN"},
		{"overlap", "eu", strings.Replace(goodRegion, `"128-255"`, `"100-255"`, 1), goodEnv, "overlap shard eu0"},
		{"gap", "eu", strings.Replace(goodRegion, `"128-255"`, `"130-255"`, 1), goodEnv, "buckets 128-129 belong to no shard"},
		{"short", "eu", strings.Replace(goodRegion, `"128-255"`, `"128-200"`, 1), goodEnv, "buckets 201-255 belong to no shard"},
		{"bad range", "eu", strings.Replace(goodRegion, `"128-255"`, `"x"`, 1), goodEnv, `buckets "x" is not a range`},
		{"peer without url", "eu", strings.Replace(goodRegion, `"https://wallet.us.internal"`, `""`, 1), goodEnv, "peer region us has no url"},
		{"plain http peer in production", "eu", strings.Replace(goodRegion, `"https://`, `"http://`, 1), goodEnv, `url "http://wallet.us.internal" must be https://host`},
		{"unknown profile", "eu", goodRegion + "profile: staging\n", goodEnv, `profile "staging"`},
		{"no region secret", "eu", goodRegion, goodEnv[:2], "auth.region_secret must be at least 32 characters"},
		{"short region secret", "eu", goodRegion, append(goodEnv, "WALLET_AUTH__REGION_SECRET=short"), "auth.region_secret must be at least 32"},
		{"short pair secret", "eu", goodRegion, append(goodEnv, "WALLET_PEERS__US__SECRET=short"), "peer region us: secret must be at least 32"},
		{"pair secret reused", "eu", goodRegion, append(goodEnv, "WALLET_PEERS__US__SECRET="+euSecret), "every region pair needs its own"},
		{"sasl without tls", "eu", goodRegion, append(goodEnv, "WALLET_KAFKA__SASL__MECHANISM=SCRAM-SHA-512", "WALLET_KAFKA__SASL__USERNAME=eu",
			"WALLET_KAFKA__SASL__PASSWORD=p"), "in the clear"},
		{"sasl without password", "eu", goodRegion, append(goodEnv, "WALLET_KAFKA__SASL__MECHANISM=SCRAM-SHA-512", "WALLET_KAFKA__SASL__USERNAME=eu",
			"WALLET_KAFKA__TLS__ENABLED=true"), "needs a username and a password"},
		{"unknown sasl mechanism", "eu", goodRegion, append(goodEnv, "WALLET_KAFKA__SASL__MECHANISM=PLAIN"), `"PLAIN" is not SCRAM`},
		{"password without mechanism", "eu", goodRegion, append(goodEnv, "WALLET_KAFKA__SASL__PASSWORD=p"), "no mechanism"},
		{"no seal secret", "eu", goodRegion, goodEnv[:4], "auth.ledger_seal_secret must be at least 32 characters"},
		{"seal secret is the region secret", "eu", goodRegion, append(goodEnv, "WALLET_AUTH__LEDGER_SEAL_SECRET="+euSecret), "must differ"},
		{"unknown key", "eu", goodRegion + "colour: blue\n", goodEnv, "colour"},
		{"unknown env key", "eu", goodRegion, append([]string{"WALLET_HTTP__ADRR=x"}, goodEnv...), "adrr"},
		{"bad broker", "eu", strings.Replace(goodRegion, `"127.0.0.1:9092"`, `"kafka"`, 1), goodEnv, `kafka broker "kafka" is not host:port`},
		{"bad token hash", "eu", strings.Replace(goodRegion, "c91cbb", "XYZ", 1), goodEnv, "gateway token dev is not a lowercase hex SHA-256"},
		{"no shards", "eu", "region: eu\nkafka: {brokers: [\"a:1\"]}\n", goodEnv[2:], "region eu has no shards"},
		{"bad yaml", "eu", "region: [", goodEnv, "config file"},
		{"tracing endpoint without scheme", "eu", goodRegion, append(goodEnv, "WALLET_TRACING__OTLP_ENDPOINT=collector:4318"), "tracing.otlp_endpoint"},
		{"tracing ratio above one", "eu", goodRegion, append(goodEnv, "WALLET_TRACING__SAMPLE_RATIO=1.5"), "tracing.sample_ratio 1.5"},
		{"tracing ratio below zero", "eu", goodRegion, append(goodEnv, "WALLET_TRACING__SAMPLE_RATIO=-0.1"), "tracing.sample_ratio -0.1"},
		{"tracing without a service name", "eu", goodRegion + "tracing: {service_name: \"\"}\n", goodEnv, "tracing.service_name"},
		{"tracing batch timeout zero", "eu", goodRegion, append(goodEnv, "WALLET_TRACING__BATCH_TIMEOUT=0s"), "tracing.batch_timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeRegion(t, "eu", c.file)
			_, err := Load(Options{Region: c.region, RegionsDir: dir, Environ: c.env})
			if err == nil {
				t.Fatal("loaded")
			}
			if msg := err.Error(); !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one line containing %q", msg, c.want)
			}
		})
	}
}

func TestShippedRegionsLoad(t *testing.T) {
	for _, region := range []string{"eu", "us"} {
		env := []string{
			"WALLET_SHARDS__" + strings.ToUpper(region) + "0__DSN=postgres://x/0",
			"WALLET_SHARDS__" + strings.ToUpper(region) + "1__DSN=postgres://x/1",
			"WALLET_AUTH__REGION_SECRET=" + euSecret,
			"WALLET_PEERS__" + map[string]string{"eu": "US", "us": "EU"}[region] + "__SECRET=" + euUSSecret,
			"WALLET_AUTH__LEDGER_SEAL_SECRET=eu-ledger-seal-secret-of-32-chars",
		}
		cfg, err := Load(Options{Region: region, RegionsDir: "../../regions", Environ: env})
		if err != nil {
			t.Fatalf("%s: %v", region, err)
		}
		if len(cfg.ShardList) != 2 || len(cfg.Peers) != 1 || cfg.Auth.GatewayTokens["dev"] == "" {
			t.Fatalf("%s: %+v", region, cfg)
		}
	}
}

// A region no gateway can call is refused: every request would be 401.
func TestAGatewayIsRequired(t *testing.T) {
	dir := writeRegion(t, "eu", strings.Replace(goodRegion, "  gateway_tokens: {dev: c91cbbedf8c712e8e2b7517ddeca8fe4fde839ebd8339e0b2001363002b37712}\n", "", 1))
	if _, err := Load(Options{Region: "eu", RegionsDir: dir, Environ: goodEnv}); err == nil || !strings.Contains(err.Error(), "gateway") {
		t.Fatalf("a region without gateways: %v, want a refusal", err)
	}
}

// Migrations need the owner's DSNs and nothing of the server's secrets; the server
// needs its own DSNs, and migrations fall back to them when no owner DSN is set.
func TestMigrationsNeedOnlyTheOwnersDSNs(t *testing.T) {
	dir := writeRegion(t, "eu", goodRegion)
	ownerOnly := []string{"WALLET_SHARDS__EU0__OWNER_DSN=postgres://owner@h/db0", "WALLET_SHARDS__EU1__OWNER_DSN=postgres://owner@h/db1"}
	cfg, err := Load(Options{Region: "eu", RegionsDir: dir, Environ: ownerOnly, ForMigrations: true})
	if err != nil {
		t.Fatalf("migrations with owner DSNs only: %v", err)
	}
	if cfg.ShardList[0].OwnerDSN != "postgres://owner@h/db0" {
		t.Fatalf("owner DSN = %q", cfg.ShardList[0].OwnerDSN)
	}
	if _, err := Load(Options{Region: "eu", RegionsDir: dir, Environ: ownerOnly}); err == nil || !strings.Contains(err.Error(), "has no DSN") {
		t.Fatalf("the server with owner DSNs only: %v, want a refusal naming the DSN", err)
	}
	if _, err := Load(Options{Region: "eu", RegionsDir: dir, Environ: []string{"WALLET_AUTH__REGION_SECRET=x"}, ForMigrations: true}); err == nil || !strings.Contains(err.Error(), "owner DSN") {
		t.Fatalf("migrations without any DSN: %v, want a refusal naming the owner DSN", err)
	}
	cfg, err = Load(Options{Region: "eu", RegionsDir: dir, Environ: goodEnv, ForMigrations: true})
	if err != nil || cfg.ShardList[0].OwnerDSN != "postgres://a@h/db0" {
		t.Fatalf("migrations with the server's DSNs: %v, owner DSN %q", err, cfg.ShardList[0].OwnerDSN)
	}
}

// TestEveryTunableHasADefault: a number or duration left out of the defaults is zero,
// and zero means "never" for most of them (a zero max_waiters once made every
// Prefer: wait answer at once). Every such key of the region-wide sections has one.
func TestEveryTunableHasADefault(t *testing.T) {
	sections := map[string]any{"http": HTTP{}, "database": Database{}, "kafka": Kafka{},
		"limits": Limits{}, "idempotency": Idempotency{}, "transfers": Transfers{}, "tracing": Tracing{}}
	for section, v := range sections {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			f := typ.Field(i)
			switch f.Type.Kind() {
			case reflect.Int, reflect.Int32, reflect.Int64, reflect.Float64:
			default:
				continue
			}
			key := section + "." + f.Tag.Get("koanf")
			if _, ok := defaults[key]; !ok {
				t.Errorf("%s has no default", key)
			}
		}
	}
}

// TestSecretsArePerRegionPair: the two regions of a pair derive the same forwarding
// token and message key from their shared secret; another pair, the region's own
// messages and the two uses of one secret all get different keys.
func TestSecretsArePerRegionPair(t *testing.T) {
	dir := t.TempDir()
	write := func(region, body string) {
		if err := os.MkdirAll(filepath.Join(dir, region), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, region, "wallet.yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const tokens = "auth:\n  gateway_tokens: {dev: c91cbbedf8c712e8e2b7517ddeca8fe4fde839ebd8339e0b2001363002b37712}\ncurrencies: {default: EUR}\n"
	write("eu", "region: eu\nshards: {eu0: {buckets: \"0-255\", dsn: x}}\nkafka: {brokers: [\"k:9092\"]}\n"+
		"peers:\n  us: {url: \"https://us\"}\n  ap: {url: \"https://ap\"}\n"+tokens)
	write("us", "region: us\nshards: {us0: {buckets: \"0-255\", dsn: x}}\nkafka: {brokers: [\"k:9092\"]}\n"+
		"peers:\n  eu: {url: \"https://eu\"}\n"+tokens)
	eu, err := Load(Options{Region: "eu", RegionsDir: dir, Environ: []string{"WALLET_AUTH__REGION_SECRET=" + euSecret,
		"WALLET_PEERS__US__SECRET=" + euUSSecret, "WALLET_PEERS__AP__SECRET=eu-ap-pair-secret-of-32-characters",
		"WALLET_AUTH__LEDGER_SEAL_SECRET=eu-ledger-seal-secret-of-32-chars"}})
	if err != nil {
		t.Fatal(err)
	}
	us, err := Load(Options{Region: "us", RegionsDir: dir, Environ: []string{"WALLET_AUTH__REGION_SECRET=us-region-secret-of-32-characters!",
		"WALLET_PEERS__EU__SECRET=" + euUSSecret, "WALLET_AUTH__LEDGER_SEAL_SECRET=us-ledger-seal-secret-of-32-chars"}})
	if err != nil {
		t.Fatal(err)
	}
	if eu.ForwardToken("us") != us.ForwardToken("eu") || string(eu.MessageKey("us")) != string(us.MessageKey("eu")) {
		t.Error("the two regions of a pair derive different credentials from their shared secret")
	}
	distinct := map[string]string{
		"eu-us token": eu.ForwardToken("us"), "eu-ap token": eu.ForwardToken("ap"),
		"eu-us key": hex.EncodeToString(eu.MessageKey("us")), "eu-ap key": hex.EncodeToString(eu.MessageKey("ap")),
		"eu own key": hex.EncodeToString(eu.MessageKey("eu")), "us own key": hex.EncodeToString(us.MessageKey("us")),
	}
	seen := map[string]string{}
	for name, v := range distinct {
		if len(v) != 64 {
			t.Errorf("%s = %q, want 32 bytes in hex", name, v)
		}
		if other, dup := seen[v]; dup {
			t.Errorf("%s and %s are the same", name, other)
		}
		seen[v] = name
	}
	if eu.ForwardToken("zz") != "" || eu.MessageKey("zz") != nil {
		t.Error("a region that is not a peer has credentials")
	}
}

// TestCurrencies: a region names its default unit, an ISO 4217 currency or an asset it
// configures; assets come from the file or the environment (whose keys arrive
// lower-case) and are refused when malformed.
func TestCurrencies(t *testing.T) {
	dir := writeRegion(t, "eu", strings.Replace(goodRegion, "currencies: {default: EUR}\n", "", 1))
	if _, err := Load(Options{Region: "eu", RegionsDir: dir, Environ: goodEnv}); err == nil || !strings.Contains(err.Error(), "currencies.default") {
		t.Fatalf("no default currency = %v", err)
	}
	dir = writeRegion(t, "eu", goodRegion)
	cfg, err := Load(Options{Region: "eu", RegionsDir: dir, Environ: append(slices.Clone(goodEnv),
		"WALLET_CURRENCIES__ASSETS__POINTS__EXPONENT=0", "WALLET_CURRENCIES__ASSETS__POINTS__NAME=Loyalty points")})
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Catalogue().Default(); d.Code != "EUR" || d.Exponent != 2 {
		t.Fatalf("default = %+v", d)
	}
	if p, ok := cfg.Catalogue().Lookup("POINTS"); !ok || p.Exponent != 0 || p.Name != "Loyalty points" {
		t.Fatalf("POINTS = %+v, %v", p, ok)
	}
	for env, want := range map[string]string{
		"WALLET_CURRENCIES__DEFAULT=EURO":              "neither an ISO 4217 currency",
		"WALLET_CURRENCIES__ASSETS__EUR__EXPONENT=2":   "is an ISO 4217 currency already",
		"WALLET_CURRENCIES__ASSETS__GOLD__EXPONENT=19": "exponent must be 0 to 18",
		"WALLET_CURRENCIES__ASSETS__G_OLD__EXPONENT=1": "upper-case letter",
	} {
		if _, err := Load(Options{Region: "eu", RegionsDir: dir, Environ: append(slices.Clone(goodEnv), env)}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s = %v, want %q", env, err, want)
		}
	}
}

// Tracing is off unless an endpoint is configured, and is configured like any other
// setting: the file, then WALLET_TRACING__* variables.
func TestTracingIsOffByDefault(t *testing.T) {
	dir := writeRegion(t, "eu", goodRegion)
	cfg, err := Load(Options{Region: "eu", RegionsDir: dir, Environ: goodEnv})
	if err != nil {
		t.Fatal(err)
	}
	want := Tracing{OTLPEndpoint: "", SampleRatio: 1, ServiceName: "wallet", BatchTimeout: 5 * time.Second}
	if cfg.Tracing != want {
		t.Fatalf("default tracing = %+v, want %+v", cfg.Tracing, want)
	}
	dir = writeRegion(t, "eu", goodRegion+"tracing: {service_name: wallet-eu, sample_ratio: 0.25}\n")
	cfg, err = Load(Options{Region: "eu", RegionsDir: dir, Environ: append(goodEnv,
		"WALLET_TRACING__OTLP_ENDPOINT=http://127.0.0.1:4318", "WALLET_TRACING__BATCH_TIMEOUT=100ms")})
	if err != nil {
		t.Fatal(err)
	}
	want = Tracing{OTLPEndpoint: "http://127.0.0.1:4318", SampleRatio: 0.25, ServiceName: "wallet-eu", BatchTimeout: 100 * time.Millisecond}
	if cfg.Tracing != want {
		t.Fatalf("tracing = %+v, want %+v", cfg.Tracing, want)
	}
}

// TestGatewayScopes: a gateway without scopes keeps what every gateway could do before
// (payments and read); configured scopes come from the file or the environment; an
// unknown scope, an empty list or a gateway without a token is refused.
func TestGatewayScopes(t *testing.T) {
	dir := writeRegion(t, "eu", goodRegion)
	cfg, err := Load(Options{Region: "eu", RegionsDir: dir, Environ: goodEnv})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.ScopesOf("dev"); !slices.Equal(got, []string{ScopePayments, ScopeRead}) {
		t.Fatalf("unconfigured scopes = %v", got)
	}
	cfg, err = Load(Options{Region: "eu", RegionsDir: dir, Environ: append(slices.Clone(goodEnv), "WALLET_AUTH__GATEWAY_SCOPES__DEV=read,operator")})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.ScopesOf("dev"); !slices.Equal(got, []string{ScopeRead, ScopeOperator}) {
		t.Fatalf("configured scopes = %v", got)
	}
	for env, want := range map[string]string{
		"WALLET_AUTH__GATEWAY_SCOPES__DEV=read,admin": `unknown scope "admin"`,
		"WALLET_AUTH__GATEWAY_SCOPES__WEB=read":       "no gateway web has a token",
	} {
		if _, err := Load(Options{Region: "eu", RegionsDir: dir, Environ: append(slices.Clone(goodEnv), env)}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s = %v, want %q", env, err, want)
		}
	}
	dir = writeRegion(t, "eu", strings.Replace(goodRegion, "auth:\n", "auth:\n  gateway_scopes: {dev: []}\n", 1))
	if _, err := Load(Options{Region: "eu", RegionsDir: dir, Environ: goodEnv}); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty scopes = %v", err)
	}
}
