package helm_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"example.com/wallet/platform/config"
)

const (
	chartDir   = "wallet"
	regionsDir = "../regions"
)

// ---------------------------------------------------------------------------
// helpers

// serviceMonitor is the subset of monitoring.coreos.com/v1 ServiceMonitor the chart
// renders; decoding is strict, so any field the chart adds must be listed here.
type serviceMonitor struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// walletConfig mirrors the binary's wallet.yaml contract; decoded strictly.
type walletConfig struct {
	Region  string `json:"region"`
	Buckets int    `json:"buckets"`
	HTTP    struct {
		Addr            string `json:"addr"`
		AdminAddr       string `json:"admin_addr"`
		ReadTimeout     string `json:"read_timeout"`
		WriteTimeout    string `json:"write_timeout"`
		IdleTimeout     string `json:"idle_timeout"`
		ShutdownTimeout string `json:"shutdown_timeout"`
		MaxBodyBytes    int64  `json:"max_body_bytes"`
	} `json:"http"`
	Shards map[string]struct {
		Buckets string `json:"buckets"`
	} `json:"shards"`
	Kafka struct {
		Brokers     []string `json:"brokers"`
		TopicPrefix string   `json:"topic_prefix"`
	} `json:"kafka"`
	Peers map[string]struct {
		URL string `json:"url"`
	} `json:"peers"`
	Limits struct {
		RatePerSecond float64 `json:"rate_per_second"`
		RateBurst     int     `json:"rate_burst"`
	} `json:"limits"`
	Database struct {
		AppRole string `json:"app_role"`
	} `json:"database"`
	Idempotency struct {
		Retention string `json:"retention"`
	} `json:"idempotency"`
	Log struct {
		Level string `json:"level"`
	} `json:"log"`
}

type manifest struct {
	file string // template path
	kind string
	name string
	obj  any // pointer to the typed object
}

type rendered struct {
	all []manifest
	raw string // every manifest concatenated (NOTES.txt excluded)
}

func (r rendered) byKind(kind string) []manifest {
	var out []manifest
	for _, m := range r.all {
		if m.kind == kind {
			out = append(out, m)
		}
	}
	return out
}

func (r rendered) get(t *testing.T, kind, name string) any {
	t.Helper()
	for _, m := range r.all {
		if m.kind == kind && m.name == name {
			return m.obj
		}
	}
	t.Fatalf("no %s %q rendered; have %v", kind, name, r.names())
	return nil
}

func (r rendered) names() []string {
	var out []string
	for _, m := range r.all {
		out = append(out, m.kind+"/"+m.name)
	}
	return out
}

func regionFiles(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(regionsDir, "*", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no regions found under %s/*/values.yaml", regionsDir)
	}
	out := map[string]string{}
	for _, f := range files {
		out[filepath.Base(filepath.Dir(f))] = f
	}
	return out
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return ch
}

func readValues(t *testing.T, path string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValuesFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return v.AsMap()
}

// modify deep-copies vals and applies fn to the copy.
func modify(t *testing.T, vals map[string]any, fn func(m map[string]any)) map[string]any {
	t.Helper()
	b, err := json.Marshal(vals)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	fn(out)
	return out
}

func sub(m map[string]any, key string) map[string]any {
	v, ok := m[key].(map[string]any)
	if !ok {
		v = map[string]any{}
		m[key] = v
	}
	return v
}

// renderChart renders like `helm template --namespace wallet-<region>` with a strict engine
// (undefined values are errors) and schema validation.
func renderChart(ch *chart.Chart, vals map[string]any) (map[string]string, error) {
	region, _ := vals["region"].(string)
	opts := chartutil.ReleaseOptions{Name: "wallet", Namespace: "wallet-" + region, Revision: 1, IsInstall: true}
	rv, err := chartutil.ToRenderValues(ch, vals, opts, chartutil.DefaultCapabilities.Copy())
	if err != nil {
		return nil, err
	}
	return engine.Engine{Strict: true}.Render(ch, rv)
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// decodeStrict decodes every rendered document into its k8s.io/api type; unknown
// fields and duplicate keys are errors.
func decodeStrict(t *testing.T, files map[string]string) rendered {
	t.Helper()
	var r rendered
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, file := range keys {
		if strings.HasSuffix(file, "NOTES.txt") {
			continue
		}
		for _, doc := range docSep.Split(files[file], -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			r.raw += "---\n" + doc + "\n"
			var head metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("%s: not YAML: %v\n%s", file, err, doc)
			}
			var obj any
			switch head.APIVersion + "/" + head.Kind {
			case "apps/v1/Deployment":
				obj = &appsv1.Deployment{}
			case "v1/Service":
				obj = &corev1.Service{}
			case "v1/ServiceAccount":
				obj = &corev1.ServiceAccount{}
			case "v1/ConfigMap":
				obj = &corev1.ConfigMap{}
			case "v1/Pod":
				obj = &corev1.Pod{}
			case "batch/v1/Job":
				obj = &batchv1.Job{}
			case "policy/v1/PodDisruptionBudget":
				obj = &policyv1.PodDisruptionBudget{}
			case "autoscaling/v2/HorizontalPodAutoscaler":
				obj = &autoscalingv2.HorizontalPodAutoscaler{}
			case "networking.k8s.io/v1/NetworkPolicy":
				obj = &networkingv1.NetworkPolicy{}
			case "monitoring.coreos.com/v1/ServiceMonitor":
				obj = &serviceMonitor{}
			default:
				t.Fatalf("%s: unexpected kind %s/%s", file, head.APIVersion, head.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s: strict decode of %s failed: %v\n%s", file, head.Kind, err, doc)
			}
			name := ""
			if mo, ok := obj.(metav1.Object); ok {
				name = mo.GetName()
			} else if sm, ok := obj.(*serviceMonitor); ok {
				name = sm.Metadata.Name
			}
			if name == "" {
				t.Fatalf("%s: %s without metadata.name", file, head.Kind)
			}
			r.all = append(r.all, manifest{file: file, kind: head.Kind, name: name, obj: obj})
		}
	}
	return r
}

func mustRender(t *testing.T, ch *chart.Chart, vals map[string]any) rendered {
	t.Helper()
	files, err := renderChart(ch, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return decodeStrict(t, files)
}

func envByName(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

func deployment(t *testing.T, r rendered) *appsv1.Deployment {
	t.Helper()
	d := r.byKind("Deployment")
	if len(d) != 1 {
		t.Fatalf("want exactly 1 Deployment, got %d", len(d))
	}
	return d[0].obj.(*appsv1.Deployment)
}

func migrationJob(t *testing.T, r rendered) *batchv1.Job {
	t.Helper()
	j := r.byKind("Job")
	if len(j) != 1 {
		t.Fatalf("want exactly 1 Job, got %d", len(j))
	}
	return j[0].obj.(*batchv1.Job)
}

// ---------------------------------------------------------------------------
// tests

// TestRegionsRender renders the chart for every regions/*/values.yaml, decodes every
// manifest strictly and checks the region facts reach the config and the env.
func TestRegionsRender(t *testing.T) {
	ch := loadChart(t)
	for region, file := range regionFiles(t) {
		t.Run(region, func(t *testing.T) {
			vals := readValues(t, file)
			if vals["region"] != region {
				t.Fatalf("%s: region = %v, want %q (directory name)", file, vals["region"], region)
			}
			r := mustRender(t, ch, vals)

			kinds := map[string]int{}
			for _, m := range r.all {
				kinds[m.kind]++
			}
			want := map[string]int{
				"Deployment": 1, "Service": 1, "ServiceAccount": 2, "ConfigMap": 2, "Job": 1, "Pod": 1,
				"PodDisruptionBudget": 1, "HorizontalPodAutoscaler": 1, "NetworkPolicy": 1,
			}
			for k, n := range want {
				if kinds[k] != n {
					t.Errorf("%s: %d rendered, want %d (all: %v)", k, kinds[k], n, r.names())
				}
			}
			for k := range kinds {
				if _, ok := want[k]; !ok {
					t.Errorf("unexpected kind %s rendered by default", k)
				}
			}

			// The config file carries exactly the region's facts.
			cm := r.get(t, "ConfigMap", "wallet-config").(*corev1.ConfigMap)
			var cfg walletConfig
			if err := yaml.UnmarshalStrict([]byte(cm.Data["wallet.yaml"]), &cfg); err != nil {
				t.Fatalf("wallet.yaml does not match the config contract: %v\n%s", err, cm.Data["wallet.yaml"])
			}
			if cfg.Region != region || cfg.Buckets != 256 {
				t.Errorf("region/buckets = %q/%d", cfg.Region, cfg.Buckets)
			}
			// The binary itself accepts the file, given the environment the Deployment
			// sets from Secrets (values stand in for the Secrets' contents).
			path := filepath.Join(t.TempDir(), "wallet.yaml")
			if err := os.WriteFile(path, []byte(cm.Data["wallet.yaml"]), 0o600); err != nil {
				t.Fatal(err)
			}
			var environ []string
			for name := range envByName(deployment(t, r).Spec.Template.Spec.Containers[0]) {
				if strings.HasPrefix(name, "WALLET_") {
					value := "stand-in"
					if strings.HasPrefix(name, "WALLET_AUTH__GATEWAY_TOKENS__") {
						value = strings.Repeat("ab", 32)
					}
					environ = append(environ, name+"="+value)
				}
			}
			loaded, err := config.Load(config.Options{ConfigPath: path, Environ: environ})
			if err != nil {
				t.Fatalf("wallet would refuse the rendered config: %v", err)
			}
			if loaded.Region != region || len(loaded.ShardList) != 2 {
				t.Errorf("wallet loaded %+v", loaded)
			}
			if cfg.HTTP.Addr != "0.0.0.0:8080" || cfg.HTTP.AdminAddr != "0.0.0.0:9090" {
				t.Errorf("http addrs = %q %q", cfg.HTTP.Addr, cfg.HTTP.AdminAddr)
			}
			if cfg.HTTP.WriteTimeout != "40s" || cfg.HTTP.MaxBodyBytes != 65536 || cfg.Limits.RateBurst != 200 ||
				cfg.Limits.RatePerSecond != 50 || cfg.Idempotency.Retention != "24h" || cfg.Log.Level != "info" ||
				cfg.Kafka.TopicPrefix != "wallet" {
				t.Errorf("defaults not rendered as documented: %+v", cfg)
			}
			wantShards := map[string]string{region + "0": "0-127", region + "1": "128-255"}
			if len(cfg.Shards) != len(wantShards) {
				t.Errorf("shards = %v, want %v", cfg.Shards, wantShards)
			}
			for name, rng := range wantShards {
				if cfg.Shards[name].Buckets != rng {
					t.Errorf("shard %s buckets = %q, want %q", name, cfg.Shards[name].Buckets, rng)
				}
			}
			brokers := vals["kafka"].(map[string]any)["brokers"].([]any)
			if len(cfg.Kafka.Brokers) != len(brokers) || len(brokers) == 0 {
				t.Errorf("brokers = %v, want %v", cfg.Kafka.Brokers, brokers)
			}
			for i, b := range brokers {
				if cfg.Kafka.Brokers[i] != b {
					t.Errorf("broker %d = %q, want %q", i, cfg.Kafka.Brokers[i], b)
				}
			}
			peers, _ := vals["peers"].([]any)
			if len(peers) == 0 || len(cfg.Peers) != len(peers) {
				t.Errorf("peers = %v, want %v", cfg.Peers, peers)
			}
			for _, p := range peers {
				pm := p.(map[string]any)
				if cfg.Peers[pm["name"].(string)].URL != pm["url"] {
					t.Errorf("peer %v: got %v", pm, cfg.Peers)
				}
			}

			// The migration job's hook copy of the config is identical.
			mcm := r.get(t, "ConfigMap", "wallet-migrate-config").(*corev1.ConfigMap)
			if mcm.Data["wallet.yaml"] != cm.Data["wallet.yaml"] {
				t.Errorf("migrate config differs from server config")
			}

			// The server gets each shard's application DSN and the tokens; the
			// migration Job gets each shard's owner DSN and nothing else.
			server, job := envByName(deployment(t, r).Spec.Template.Spec.Containers[0]), envByName(migrationJob(t, r).Spec.Template.Spec.Containers[0])
			for _, s := range vals["shards"].([]any) {
				sm := s.(map[string]any)
				shard := strings.ToUpper(sm["name"].(string))
				for _, want := range []struct {
					env     map[string]corev1.EnvVar
					name    string
					secret  map[string]any
					absent  map[string]corev1.EnvVar
					absName string
				}{
					{server, "WALLET_SHARDS__" + shard + "__DSN", sm["dsnSecret"].(map[string]any), job, "WALLET_SHARDS__" + shard + "__DSN"},
					{job, "WALLET_SHARDS__" + shard + "__OWNER_DSN", sm["ownerDsnSecret"].(map[string]any), server, "WALLET_SHARDS__" + shard + "__OWNER_DSN"},
				} {
					e, ok := want.env[want.name]
					if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
						t.Fatalf("%s not from a secretKeyRef: %+v", want.name, e)
					}
					if e.Value != "" || e.ValueFrom.SecretKeyRef.Name != want.secret["name"] || e.ValueFrom.SecretKeyRef.Key != want.secret["key"] {
						t.Errorf("%s = %+v, want secret %v", want.name, e.ValueFrom.SecretKeyRef, want.secret)
					}
					if _, leaked := want.absent[want.absName]; leaked {
						t.Errorf("%s reaches a container that must not hold it", want.absName)
					}
				}
			}
			rt := server["WALLET_AUTH__REGION_TOKEN"]
			if rt.ValueFrom == nil || rt.ValueFrom.SecretKeyRef == nil ||
				rt.ValueFrom.SecretKeyRef.Name != "wallet-region-token" || rt.ValueFrom.SecretKeyRef.Key != "token" {
				t.Errorf("server: WALLET_AUTH__REGION_TOKEN = %+v", rt)
			}
			for name := range job {
				if strings.HasPrefix(name, "WALLET_AUTH__") {
					t.Errorf("the migration Job holds %s", name)
				}
			}

			// Every object carries the region label.
			for _, m := range r.all {
				mo := m.obj.(metav1.Object)
				if mo.GetLabels()["wallet.example.com/region"] != region {
					t.Errorf("%s/%s: region label = %q", m.kind, m.name, mo.GetLabels()["wallet.example.com/region"])
				}
			}
		})
	}
}

// TestLintStrict is `helm lint --strict -f regions/<r>/values.yaml` for every region
// (warnings fail, as with --strict), plus one run with every optional resource on.
func TestLintStrict(t *testing.T) {
	cases := map[string]map[string]any{}
	for region, file := range regionFiles(t) {
		cases[region] = readValues(t, file)
	}
	cases["eu-all-optional"] = modify(t, readValues(t, filepath.Join(regionsDir, "eu", "values.yaml")), func(m map[string]any) {
		m["serviceMonitor"] = map[string]any{"enabled": true}
		m["grafanaDashboard"] = map[string]any{"enabled": true}
		sub(m, "networkPolicy")["egress"] = map[string]any{"enabled": true}
		sub(m, "auth")["gatewayTokensSecret"] = map[string]any{"name": "wallet-gateway-tokens", "gateways": []any{"web"}}
	})
	for name, vals := range cases {
		t.Run(name, func(t *testing.T) {
			res := lint.All(chartDir, vals, "wallet-"+name, true)
			for _, m := range res.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("lint: %v", m)
				} else {
					t.Logf("lint: %v", m)
				}
			}
		})
	}
}

func TestSchemaRejects(t *testing.T) {
	ch := loadChart(t)
	base := readValues(t, filepath.Join(regionsDir, "eu", "values.yaml"))
	cases := []struct {
		name    string
		mutate  func(m map[string]any)
		wantErr string // substring of the schema error
	}{
		{"no shards key", func(m map[string]any) { delete(m, "shards") }, "shards"},
		{"empty shards", func(m map[string]any) { m["shards"] = []any{} }, "shards"},
		{"unknown top-level key", func(m map[string]any) { m["replicas"] = 3 }, "replicas"},
		{"unknown nested key", func(m map[string]any) { sub(m, "kafka")["brokerList"] = []any{"k:9092"} }, "brokerList"},
		{"unknown shard key", func(m map[string]any) {
			m["shards"].([]any)[0].(map[string]any)["dsn"] = "postgres://u:p@h/db"
		}, "dsn"},
		{"no region", func(m map[string]any) { delete(m, "region") }, "region"},
		{"bad region", func(m map[string]any) { m["region"] = "EU-1" }, "region"},
		{"broker without port", func(m map[string]any) { sub(m, "kafka")["brokers"] = []any{"kafka-0.kafka"} }, "brokers"},
		{"broker with scheme", func(m map[string]any) { sub(m, "kafka")["brokers"] = []any{"kafka://kafka-0:9092"} }, "brokers"},
		{"broker with bad port", func(m map[string]any) { sub(m, "kafka")["brokers"] = []any{"kafka-0:port"} }, "brokers"},
		{"broker list as string", func(m map[string]any) { sub(m, "kafka")["brokers"] = "kafka-0:9092,kafka-1:9092" }, "brokers"},
		{"no brokers", func(m map[string]any) { sub(m, "kafka")["brokers"] = []any{} }, "brokers"},
		{"no gateway", func(m map[string]any) {
			sub(sub(m, "auth"), "gatewayTokensSecret")["gateways"] = []any{}
		}, "gateways"},
		{"no owner DSN", func(m map[string]any) {
			delete(m["shards"].([]any)[0].(map[string]any), "ownerDsnSecret")
		}, "ownerDsnSecret"},
		{"root filesystem writable", func(m map[string]any) {
			sub(m, "securityContext")["readOnlyRootFilesystem"] = false
		}, "readOnlyRootFilesystem"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vals := modify(t, base, tc.mutate)
			_, err := renderChart(ch, vals)
			if err == nil {
				t.Fatalf("schema accepted invalid values")
			}
			if !strings.Contains(err.Error(), "values don't meet the specifications of the schema") ||
				!strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want schema error mentioning %q, got: %v", tc.wantErr, err)
			}
		})
	}
	// Sanity: the unmodified values pass.
	if _, err := renderChart(ch, base); err != nil {
		t.Fatalf("valid values rejected: %v", err)
	}
}

// TestTemplateValidation covers the checks the schema cannot express.
func TestTemplateValidation(t *testing.T) {
	ch := loadChart(t)
	base := readValues(t, filepath.Join(regionsDir, "eu", "values.yaml"))
	setRange := func(i int, rng string) func(m map[string]any) {
		return func(m map[string]any) { m["shards"].([]any)[i].(map[string]any)["buckets"] = rng }
	}
	cases := []struct {
		name    string
		mutate  func(m map[string]any)
		wantErr string
	}{
		{"gap", setRange(1, "129-255"), "cover 255 of 256"},
		{"overlap", setRange(1, "127-255"), "overlaps eu0"},
		{"beyond buckets", setRange(1, "128-256"), "outside 0-255"},
		{"reversed", setRange(1, "255-128"), "outside 0-255"},
		{"duplicate shard", func(m map[string]any) { m["shards"].([]any)[1].(map[string]any)["name"] = "eu0" }, "duplicate shard name"},
		{"peer is self", func(m map[string]any) {
			m["peers"] = append(m["peers"].([]any), map[string]any{"name": "eu", "url": "https://x"})
		}, "own region"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderChart(ch, modify(t, base, tc.mutate))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want error containing %q, got %v", tc.wantErr, err)
			}
		})
	}
	// A different bucket count with matching ranges is fine.
	ok := modify(t, base, func(m map[string]any) {
		m["buckets"] = 4
		setRange(0, "0-0")(m)
		setRange(1, "1-3")(m)
	})
	if _, err := renderChart(ch, ok); err != nil {
		t.Fatalf("valid 4-bucket layout rejected: %v", err)
	}
}

// TestNoSecretValuesRendered: Secrets are referenced by name only. The values below
// name every Secret; the sentinel strings are what those Secrets would hold in a
// cluster and must never appear in any manifest (the chart has no way to get them,
// and the schema refuses values keys that could carry them).
func TestNoSecretValuesRendered(t *testing.T) {
	ch := loadChart(t)
	dir := t.TempDir()
	valuesFile := filepath.Join(dir, "values.yaml")
	const valuesYAML = `
region: eu
shards:
  - name: eu0
    buckets: "0-127"
    dsnSecret: {name: sentinel-eu0-dsn, key: dsn}
    ownerDsnSecret: {name: sentinel-eu0-owner-dsn, key: dsn}
  - name: eu1
    buckets: "128-255"
    dsnSecret: {name: sentinel-eu1-dsn, key: dsn}
    ownerDsnSecret: {name: sentinel-eu1-owner-dsn, key: dsn}
kafka:
  brokers: ["kafka-0.kafka:9092"]
peers:
  - {name: us, url: "https://wallet.us.internal"}
auth:
  gatewayTokensSecret: {name: sentinel-gateway-tokens, gateways: [web, partner]}
  regionTokenSecret: {name: sentinel-region-token, key: token}
serviceMonitor: {enabled: true}
grafanaDashboard: {enabled: true}
networkPolicy: {egress: {enabled: true}}
`
	if err := os.WriteFile(valuesFile, []byte(valuesYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	// What the Secrets hold in a real cluster (never given to helm).
	secretValues := []string{
		"postgres://wallet:Sentinel-Pa55@eu0.db.internal:5432/wallet?sslmode=verify-full",
		"postgresql://wallet:Sentinel-Pa55@eu1.db.internal/wallet",
		"Sentinel-Pa55",
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", // sha256("test")
		"sentinel-region-token-value",
	}
	files, err := renderChart(ch, readValues(t, valuesFile))
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	r := decodeStrict(t, files)
	var all strings.Builder
	for _, content := range files {
		all.WriteString(content)
	}
	text := all.String()
	for _, s := range append(secretValues, "postgres://", "postgresql://", "sslmode=", "password") {
		if strings.Contains(strings.ToLower(text), strings.ToLower(s)) {
			t.Errorf("rendered chart contains secret-looking %q", s)
		}
	}
	if n := len(r.byKind("Secret")); n != 0 {
		t.Errorf("chart renders %d Secrets; it must only reference existing ones", n)
	}
	// Every WALLET_* env var is a secretKeyRef to one of the named Secrets.
	allowed := map[string]bool{"sentinel-eu0-dsn": true, "sentinel-eu1-dsn": true, "sentinel-eu0-owner-dsn": true, "sentinel-eu1-owner-dsn": true,
		"sentinel-gateway-tokens": true, "sentinel-region-token": true}
	var pods []corev1.PodSpec
	pods = append(pods, deployment(t, r).Spec.Template.Spec, migrationJob(t, r).Spec.Template.Spec)
	for _, m := range r.byKind("Pod") {
		pods = append(pods, m.obj.(*corev1.Pod).Spec)
	}
	seen := map[string]bool{}
	for _, ps := range pods {
		for _, c := range append(ps.InitContainers, ps.Containers...) {
			if len(c.EnvFrom) != 0 {
				t.Errorf("%s: envFrom not allowed (would expose whole Secrets): %+v", c.Name, c.EnvFrom)
			}
			for _, e := range c.Env {
				if !strings.HasPrefix(e.Name, "WALLET_") {
					continue
				}
				if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || !allowed[e.ValueFrom.SecretKeyRef.Name] {
					t.Errorf("%s: %s is not a secretKeyRef to a named Secret: %+v", c.Name, e.Name, e)
				}
				seen[e.Name] = true
			}
		}
	}
	for _, name := range []string{
		"WALLET_SHARDS__EU0__DSN", "WALLET_SHARDS__EU1__DSN", "WALLET_SHARDS__EU0__OWNER_DSN", "WALLET_SHARDS__EU1__OWNER_DSN",
		"WALLET_AUTH__GATEWAY_TOKENS__WEB", "WALLET_AUTH__GATEWAY_TOKENS__PARTNER", "WALLET_AUTH__REGION_TOKEN",
	} {
		if !seen[name] {
			t.Errorf("env %s missing", name)
		}
	}
	gw := envByName(deployment(t, r).Spec.Template.Spec.Containers[0])["WALLET_AUTH__GATEWAY_TOKENS__PARTNER"]
	if gw.ValueFrom == nil || gw.ValueFrom.SecretKeyRef.Name != "sentinel-gateway-tokens" || gw.ValueFrom.SecretKeyRef.Key != "partner" {
		t.Errorf("gateway token env = %+v", gw)
	}
	// Values keys that could smuggle a secret in are refused.
	for _, bad := range []func(m map[string]any){
		func(m map[string]any) { sub(m, "auth")["regionToken"] = "sentinel-region-token-value" },
		func(m map[string]any) { m["env"] = []any{map[string]any{"name": "X", "value": "y"}} },
		func(m map[string]any) {
			sub(sub(m, "auth"), "regionTokenSecret")["value"] = "sentinel-region-token-value"
		},
	} {
		if _, err := renderChart(ch, modify(t, readValues(t, valuesFile), bad)); err == nil {
			t.Errorf("schema accepted a values key that could carry a secret")
		}
	}
}

// TestDeploymentFacts checks the concrete Deployment/Job facts the rollout relies on.
func TestDeploymentFacts(t *testing.T) {
	ch := loadChart(t)
	base := readValues(t, filepath.Join(regionsDir, "eu", "values.yaml"))
	r := mustRender(t, ch, base)
	d := deployment(t, r)
	ps := d.Spec.Template.Spec
	if len(ps.Containers) != 1 {
		t.Fatalf("containers = %d", len(ps.Containers))
	}
	c := ps.Containers[0]

	t.Run("command", func(t *testing.T) {
		if !slices.Equal(c.Args, []string{"serve", "--config", "/etc/wallet/wallet.yaml"}) || len(c.Command) != 0 {
			t.Errorf("command/args = %v %v", c.Command, c.Args)
		}
		if c.Image != "registry.example.com/wallet:0.1.0" {
			t.Errorf("image = %q", c.Image)
		}
		var mounted bool
		for _, vm := range c.VolumeMounts {
			if vm.MountPath == "/etc/wallet" && vm.ReadOnly {
				mounted = true
			}
		}
		if !mounted || len(ps.Volumes) != 1 || ps.Volumes[0].ConfigMap == nil || ps.Volumes[0].ConfigMap.Name != "wallet-config" {
			t.Errorf("config volume: mounts %+v volumes %+v", c.VolumeMounts, ps.Volumes)
		}
		ports := map[string]int32{}
		for _, p := range c.Ports {
			ports[p.Name] = p.ContainerPort
		}
		if ports["http"] != 8080 || ports["admin"] != 9090 {
			t.Errorf("ports = %v", ports)
		}
	})

	t.Run("probes", func(t *testing.T) {
		for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
			if p == nil || p.HTTPGet == nil {
				t.Fatalf("%s probe missing or not httpGet", name)
			}
			want := "/readyz"
			if name == "liveness" {
				want = "/livez"
			}
			if p.HTTPGet.Path != want || p.HTTPGet.Port.String() != "http" {
				t.Errorf("%s probe = %s on %s, want %s on http", name, p.HTTPGet.Path, p.HTTPGet.Port.String(), want)
			}
		}
	})

	t.Run("securityContext", func(t *testing.T) {
		psc, sc := ps.SecurityContext, c.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
			psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("pod securityContext = %+v", psc)
		}
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
			t.Errorf("container securityContext = %+v", sc)
		}
		if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
			t.Errorf("service account token automounted")
		}
		// No writable volumes at all.
		for _, v := range ps.Volumes {
			if v.ConfigMap == nil {
				t.Errorf("unexpected non-ConfigMap volume %s", v.Name)
			}
		}
		// The helm test pod is hardened too.
		tp := r.byKind("Pod")[0].obj.(*corev1.Pod)
		tsc := tp.Spec.Containers[0].SecurityContext
		if tp.Spec.SecurityContext == nil || tp.Spec.SecurityContext.RunAsNonRoot == nil || !*tp.Spec.SecurityContext.RunAsNonRoot ||
			tsc == nil || tsc.ReadOnlyRootFilesystem == nil || !*tsc.ReadOnlyRootFilesystem ||
			tsc.AllowPrivilegeEscalation == nil || *tsc.AllowPrivilegeEscalation {
			t.Errorf("test pod securityContext = %+v / %+v", tp.Spec.SecurityContext, tsc)
		}
	})

	t.Run("checksum", func(t *testing.T) {
		sum := d.Spec.Template.Annotations["checksum/config"]
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(sum) {
			t.Fatalf("checksum/config = %q", sum)
		}
		changed := map[string]func(m map[string]any){
			"log level":   func(m map[string]any) { sub(m, "log")["level"] = "debug" },
			"broker list": func(m map[string]any) { sub(m, "kafka")["brokers"] = []any{"kafka-9.kafka:9092"} },
			"peer url":    func(m map[string]any) { m["peers"].([]any)[0].(map[string]any)["url"] = "https://other.example" },
		}
		for name, fn := range changed {
			got := deployment(t, mustRender(t, ch, modify(t, base, fn))).Spec.Template.Annotations["checksum/config"]
			if got == sum {
				t.Errorf("%s changed but checksum/config did not", name)
			}
		}
		same := deployment(t, mustRender(t, ch, modify(t, base, func(m map[string]any) { m["replicaCount"] = 7 })))
		if same.Spec.Template.Annotations["checksum/config"] != sum {
			t.Errorf("checksum/config changed although the config did not")
		}
		// The checksum is of the config actually shipped in the ConfigMap.
		cm := r.get(t, "ConfigMap", "wallet-config").(*corev1.ConfigMap)
		shipped := sha256.Sum256([]byte(strings.TrimSuffix(cm.Data["wallet.yaml"], "\n")))
		if hex.EncodeToString(shipped[:]) != sum {
			t.Errorf("checksum/config is not the sha256 of the ConfigMap's wallet.yaml")
		}
	})

	t.Run("migration hook", func(t *testing.T) {
		j := migrationJob(t, r)
		if j.Annotations["helm.sh/hook"] != "pre-install,pre-upgrade" {
			t.Errorf("job hook = %q", j.Annotations["helm.sh/hook"])
		}
		jc := j.Spec.Template.Spec.Containers[0]
		if !slices.Equal(jc.Args, []string{"migrate", "up", "--config", "/etc/wallet/wallet.yaml"}) {
			t.Errorf("job args = %v", jc.Args)
		}
		if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("job restartPolicy = %s", j.Spec.Template.Spec.RestartPolicy)
		}
		// Everything the hook Job uses must itself be a hook created before it.
		jobWeight := j.Annotations["helm.sh/hook-weight"]
		cmName := j.Spec.Template.Spec.Volumes[0].ConfigMap.Name
		cm := r.get(t, "ConfigMap", cmName).(*corev1.ConfigMap)
		sa := r.get(t, "ServiceAccount", j.Spec.Template.Spec.ServiceAccountName).(*corev1.ServiceAccount)
		for _, om := range []metav1.ObjectMeta{cm.ObjectMeta, sa.ObjectMeta} {
			if om.Annotations["helm.sh/hook"] != "pre-install,pre-upgrade" {
				t.Errorf("%s used by the hook job is not a pre-install,pre-upgrade hook", om.Name)
			}
			var w, jw int
			_, _ = fmt.Sscan(om.Annotations["helm.sh/hook-weight"], &w)
			_, _ = fmt.Sscan(jobWeight, &jw)
			if w >= jw {
				t.Errorf("%s hook-weight %d not below the job's %d", om.Name, w, jw)
			}
		}
		if jc.SecurityContext == nil || !*jc.SecurityContext.ReadOnlyRootFilesystem {
			t.Errorf("job container not read-only")
		}
	})

	t.Run("autoscaling", func(t *testing.T) {
		if d.Spec.Replicas != nil {
			t.Errorf("replicas set although the HPA owns them")
		}
		hpa := r.byKind("HorizontalPodAutoscaler")[0].obj.(*autoscalingv2.HorizontalPodAutoscaler)
		if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas != 3 || hpa.Spec.ScaleTargetRef.Name != d.Name {
			t.Errorf("hpa = %+v", hpa.Spec)
		}
		off := deployment(t, mustRender(t, ch, modify(t, base, func(m map[string]any) { sub(m, "autoscaling")["enabled"] = false })))
		if off.Spec.Replicas == nil || *off.Spec.Replicas != 3 {
			t.Errorf("replicas without HPA = %v", off.Spec.Replicas)
		}
	})

	t.Run("selectors", func(t *testing.T) {
		sel := d.Spec.Selector.MatchLabels
		for k, v := range sel {
			if d.Spec.Template.Labels[k] != v {
				t.Errorf("pod template lacks selector label %s=%s", k, v)
			}
		}
		svc := r.byKind("Service")[0].obj.(*corev1.Service)
		pdb := r.byKind("PodDisruptionBudget")[0].obj.(*policyv1.PodDisruptionBudget)
		np := r.byKind("NetworkPolicy")[0].obj.(*networkingv1.NetworkPolicy)
		for name, got := range map[string]map[string]string{"service": svc.Spec.Selector, "pdb": pdb.Spec.Selector.MatchLabels, "networkpolicy": np.Spec.PodSelector.MatchLabels} {
			if fmt.Sprint(got) != fmt.Sprint(sel) {
				t.Errorf("%s selector %v != deployment selector %v", name, got, sel)
			}
		}
		// The test pod must not be selected by the Service.
		tp := r.byKind("Pod")[0].obj.(*corev1.Pod)
		if tp.Labels["app.kubernetes.io/component"] == sel["app.kubernetes.io/component"] {
			t.Errorf("test pod matches the server selector")
		}
		if len(d.Spec.Template.Spec.TopologySpreadConstraints) == 0 {
			t.Errorf("no topologySpreadConstraints")
		}
		for _, tsc := range d.Spec.Template.Spec.TopologySpreadConstraints {
			if fmt.Sprint(tsc.LabelSelector.MatchLabels) != fmt.Sprint(sel) {
				t.Errorf("topology spread selector %v", tsc.LabelSelector.MatchLabels)
			}
		}
	})

	t.Run("test hook", func(t *testing.T) {
		tp := r.byKind("Pod")[0].obj.(*corev1.Pod)
		if tp.Annotations["helm.sh/hook"] != "test" {
			t.Errorf("test pod hook = %q", tp.Annotations["helm.sh/hook"])
		}
		cmd := strings.Join(tp.Spec.Containers[0].Command, " ")
		if !strings.Contains(cmd, "http://wallet.wallet-eu.svc:8080/readyz") {
			t.Errorf("test pod command = %q", cmd)
		}
	})
}

// TestOptionalResources turns on the opt-in resources and decodes them strictly.
func TestOptionalResources(t *testing.T) {
	ch := loadChart(t)
	base := readValues(t, filepath.Join(regionsDir, "us", "values.yaml"))
	vals := modify(t, base, func(m map[string]any) {
		m["serviceMonitor"] = map[string]any{"enabled": true, "labels": map[string]any{"release": "prometheus"}}
		m["grafanaDashboard"] = map[string]any{"enabled": true}
		np := sub(m, "networkPolicy")
		np["httpFrom"] = []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "gateway"}}}}
		np["egress"] = map[string]any{"enabled": true, "rules": []any{
			map[string]any{"to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.0.0.0/8"}}}, "ports": []any{map[string]any{"port": 5432}}},
		}}
		m["podDisruptionBudget"] = map[string]any{"maxUnavailable": "25%"}
	})
	r := mustRender(t, ch, vals)

	sms := r.byKind("ServiceMonitor")
	if len(sms) != 1 {
		t.Fatalf("ServiceMonitors = %d", len(sms))
	}
	sm := sms[0].obj.(*serviceMonitor)
	if sm.APIVersion != "monitoring.coreos.com/v1" || sm.Metadata.Labels["release"] != "prometheus" ||
		len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "admin" || sm.Spec.Endpoints[0].Path != "/metrics" ||
		!slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{"wallet-us"}) {
		t.Errorf("servicemonitor = %+v", sm)
	}

	dash := r.get(t, "ConfigMap", "wallet-dashboard").(*corev1.ConfigMap)
	if dash.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboard labels = %v", dash.Labels)
	}
	var board map[string]any
	if err := json.Unmarshal([]byte(dash.Data["wallet.json"]), &board); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}

	np := r.byKind("NetworkPolicy")[0].obj.(*networkingv1.NetworkPolicy)
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress", "Egress"}) {
		t.Errorf("policyTypes = %v", np.Spec.PolicyTypes)
	}
	if len(np.Spec.Ingress) != 2 || len(np.Spec.Ingress[0].From) != 2 || np.Spec.Ingress[0].Ports[0].Port.String() != "http" ||
		np.Spec.Ingress[1].From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" ||
		np.Spec.Ingress[1].Ports[0].Port.String() != "admin" {
		t.Errorf("ingress = %+v", np.Spec.Ingress)
	}
	if len(np.Spec.Egress) != 2 || np.Spec.Egress[1].Ports[0].Port.IntValue() != 5432 {
		t.Errorf("egress = %+v", np.Spec.Egress)
	}

	// Egress restricted with nothing allowed renders an explicit deny-all.
	deny := mustRender(t, ch, modify(t, base, func(m map[string]any) {
		sub(m, "networkPolicy")["egress"] = map[string]any{"enabled": true, "allowDNS": false}
	}))
	dnp := deny.byKind("NetworkPolicy")[0].obj.(*networkingv1.NetworkPolicy)
	if dnp.Spec.Egress == nil || len(dnp.Spec.Egress) != 0 || !slices.Contains(dnp.Spec.PolicyTypes, "Egress") {
		t.Errorf("deny-all egress = %+v / %v", dnp.Spec.Egress, dnp.Spec.PolicyTypes)
	}

	pdb := r.byKind("PodDisruptionBudget")[0].obj.(*policyv1.PodDisruptionBudget)
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.String() != "25%" {
		t.Errorf("pdb maxUnavailable = %v", pdb.Spec.MaxUnavailable)
	}

	// Image pinned by digest.
	digest := "sha256:" + strings.Repeat("ab", 32)
	pinned := deployment(t, mustRender(t, ch, modify(t, base, func(m map[string]any) { sub(m, "image")["digest"] = digest })))
	if pinned.Spec.Template.Spec.Containers[0].Image != "registry.example.com/wallet@"+digest {
		t.Errorf("pinned image = %q", pinned.Spec.Template.Spec.Containers[0].Image)
	}

	// Everything off: no PDB, HPA, NetworkPolicy, migration hooks.
	min := mustRender(t, ch, modify(t, base, func(m map[string]any) {
		sub(m, "autoscaling")["enabled"] = false
		sub(m, "podDisruptionBudget")["enabled"] = false
		sub(m, "networkPolicy")["enabled"] = false
		sub(m, "migrations")["enabled"] = false
		sub(m, "serviceAccount")["create"] = false
	}))
	for _, k := range []string{"HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Job", "ServiceAccount"} {
		if n := len(min.byKind(k)); n != 0 {
			t.Errorf("%s rendered although disabled", k)
		}
	}
	if sa := deployment(t, min).Spec.Template.Spec.ServiceAccountName; sa != "default" {
		t.Errorf("serviceAccountName without create = %q", sa)
	}
}

// TestDashboard checks the Grafana dashboard is a real dashboard covering the service's metrics.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "dashboards", "wallet.json"))
	if err != nil {
		t.Fatal(err)
	}
	var board struct {
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr  string `json:"expr"`
				RefID string `json:"refId"`
			} `json:"targets"`
		} `json:"panels"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&board); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if board.UID == "" || board.Title == "" {
		t.Errorf("uid/title missing")
	}
	var exprs []string
	ids := map[int]bool{}
	for _, p := range board.Panels {
		if ids[p.ID] {
			t.Errorf("duplicate panel id %d", p.ID)
		}
		ids[p.ID] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	joined := strings.Join(exprs, "\n")
	for _, want := range []string{
		"wallet_http_requests_total", "wallet_http_request_duration_seconds_bucket",
		"wallet_tcc_steps_total", "wallet_transfer_completion_seconds_bucket",
		"wallet_outbox_oldest_unsent_seconds", "wallet_consumer_lag", "wallet_dlq_messages_total",
		"wallet_dependency_up",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("no panel queries %s", want)
		}
	}
	for _, label := range []string{"route", "status", "step, outcome", "shard", "topic", "dependency"} {
		if !strings.Contains(joined, "by ("+label) && !strings.Contains(joined, ", "+label+")") {
			t.Errorf("no panel breaks down by %q", label)
		}
	}
}

// TestDockerfile checks the image build facts the chart depends on (the image is not built here).
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	for _, want := range []string{
		"FROM golang:1.26",
		"CGO_ENABLED=0",
		"-trimpath",
		"-ldflags='-s -w'",
		"./cmd/wallet",
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"USER 65532:65532",
		`ENTRYPOINT ["/usr/local/bin/wallet"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if _, err := os.Stat("../.dockerignore"); err != nil {
		t.Errorf(".dockerignore: %v", err)
	}
}

// TestValuesDocumented: every key of helm/wallet/values.yaml has a comment right above it
// (items of list values are documented by their list's comment).
func TestValuesDocumented(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	keyRe := regexp.MustCompile(`^[A-Za-z][\w-]*:`)
	prev, listIndent := "", -1
	for i, line := range strings.Split(string(raw), "\n") {
		s := strings.TrimSpace(line)
		if s == "" {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if listIndent >= 0 {
			if indent > listIndent || (indent == listIndent && strings.HasPrefix(s, "-")) {
				prev = s
				continue
			}
			listIndent = -1
		}
		if strings.HasPrefix(s, "- ") {
			listIndent, prev = indent, s
			continue
		}
		if keyRe.MatchString(s) && !strings.HasPrefix(prev, "#") {
			t.Errorf("values.yaml:%d: key without a comment: %s", i+1, s)
		}
		prev = s
	}
}
