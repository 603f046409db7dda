package helm_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

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
	"k8s.io/apimachinery/pkg/labels"
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
	Profile string `json:"profile"`
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
		TLS         *struct {
			Enabled    bool   `json:"enabled"`
			CAFile     string `json:"ca_file"`
			ServerName string `json:"server_name"`
		} `json:"tls"`
		SASL *struct {
			Mechanism string `json:"mechanism"`
			Username  string `json:"username"`
		} `json:"sasl"`
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
	Webhooks struct {
		RetryDelays   string `json:"retry_delays"`
		Timeout       string `json:"timeout"`
		SecretOverlap string `json:"secret_overlap"`
		LogRetention  string `json:"log_retention"`
	} `json:"webhooks"`
	Auth *struct {
		GatewayScopes map[string][]string `json:"gateway_scopes"`
	} `json:"auth"`
	Currencies struct {
		Default string `json:"default"`
		Assets  map[string]struct {
			Exponent int    `json:"exponent"`
			Name     string `json:"name"`
		} `json:"assets"`
	} `json:"currencies"`
	Log struct {
		Level string `json:"level"`
	} `json:"log"`
	Tracing struct {
		OTLPEndpoint string  `json:"otlp_endpoint"`
		SampleRatio  float64 `json:"sample_ratio"`
		ServiceName  string  `json:"service_name"`
		BatchTimeout string  `json:"batch_timeout"`
	} `json:"tracing"`
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
			case "monitoring.coreos.com/v1/PrometheusRule":
				obj = &prometheusRule{}
			case "batch/v1/CronJob":
				obj = &batchv1.CronJob{}
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
			} else if pr, ok := obj.(*prometheusRule); ok {
				name = pr.Metadata.Name
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

// standIn is what a test puts in a WALLET_* variable in place of the Secret's content:
// a hex SHA-256 for a gateway token, otherwise a value of its own per variable, long
// enough for the wallet's secrets (it refuses a secret shorter than 32 characters or
// used twice).
func standIn(name string) string {
	if strings.HasPrefix(name, "WALLET_AUTH__GATEWAY_TOKENS__") {
		return strings.Repeat("ab", 32)
	}
	return "stand-in value of " + name
}

// loadRendered loads a rendered wallet.yaml with the wallet's own config loader, in the
// environment a container with env would have (stand-ins for the Secrets' contents):
// the wallet would accept the file if this succeeds.
func loadRendered(t *testing.T, walletYAML string, env map[string]corev1.EnvVar, forMigrations bool) (*config.Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wallet.yaml")
	if err := os.WriteFile(path, []byte(walletYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	var environ []string
	for name := range env {
		if strings.HasPrefix(name, "WALLET_") {
			environ = append(environ, name+"="+standIn(name))
		}
	}
	return config.Load(config.Options{ConfigPath: path, Environ: environ, ForMigrations: forMigrations})
}

// secretRef is the Secret and key an env var of c comes from, as "name/key"; "" when
// it is not a secretKeyRef.
func secretRef(c corev1.Container, env string) string {
	e, ok := envByName(c)[env]
	if !ok || e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		return ""
	}
	return e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
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
				"PodDisruptionBudget": 1, "HorizontalPodAutoscaler": 1, "NetworkPolicy": 3,
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
			if want := map[string]string{"eu": "EUR", "us": "EUR"}[region]; cfg.Currencies.Default != want {
				t.Errorf("currencies.default = %q, want %s", cfg.Currencies.Default, want)
			}
			// The binary itself accepts the file, given the environment the Deployment
			// sets from Secrets (stand-ins for the Secrets' contents).
			serverC := deployment(t, r).Spec.Template.Spec.Containers[0]
			loaded, err := loadRendered(t, cm.Data["wallet.yaml"], envByName(serverC), false)
			if err != nil {
				t.Fatalf("wallet would refuse the rendered config: %v", err)
			}
			if loaded.Region != region || len(loaded.ShardList) != 2 || loaded.Profile != "production" || cfg.Profile != "production" {
				t.Errorf("wallet loaded %+v", loaded)
			}
			// Kafka's TLS and SASL reach the wallet as the region's values say.
			kv := vals["kafka"].(map[string]any)
			tlsOn, _ := kv["tls"].(map[string]any)["enabled"].(bool)
			sasl := kv["sasl"].(map[string]any)
			if loaded.Kafka.TLS.Enabled != tlsOn || loaded.Kafka.SASL.Mechanism != sasl["mechanism"] || loaded.Kafka.SASL.Username != sasl["username"] {
				t.Errorf("kafka security loaded as %+v %+v, values say tls %v sasl %v", loaded.Kafka.TLS, loaded.Kafka.SASL, tlsOn, sasl)
			}
			if sasl["mechanism"] != "" && loaded.Kafka.SASL.Password != standIn("WALLET_KAFKA__SASL__PASSWORD") {
				t.Errorf("the Kafka password does not reach the wallet: %q", loaded.Kafka.SASL.Password)
			}
			if cfg.HTTP.Addr != "0.0.0.0:8080" || cfg.HTTP.AdminAddr != "0.0.0.0:9090" {
				t.Errorf("http addrs = %q %q", cfg.HTTP.Addr, cfg.HTTP.AdminAddr)
			}
			if cfg.HTTP.WriteTimeout != "40s" || cfg.HTTP.MaxBodyBytes != 65536 || cfg.Limits.RateBurst != 200 ||
				cfg.Limits.RatePerSecond != 50 || cfg.Idempotency.Retention != "24h" || cfg.Log.Level != "info" ||
				cfg.Kafka.TopicPrefix != "wallet" || cfg.Webhooks.RetryDelays != "5s,5m,30m,2h,5h,10h,10h" ||
				cfg.Webhooks.Timeout != "10s" || cfg.Webhooks.SecretOverlap != "24h" || cfg.Webhooks.LogRetention != "720h" || loaded.Webhooks.Delays()[6] != 10*time.Hour {
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

			// The migration Job's hook copy of the config is the server's without Kafka's
			// TLS and SASL (it does not talk to Kafka, and a SASL mechanism without the
			// password it does not hold would be refused), and the wallet accepts it with
			// the Job's environment alone.
			mcm := r.get(t, "ConfigMap", "wallet-migrate-config").(*corev1.ConfigMap)
			var serverDoc, migrateDoc map[string]any
			if err := yaml.Unmarshal([]byte(cm.Data["wallet.yaml"]), &serverDoc); err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal([]byte(mcm.Data["wallet.yaml"]), &migrateDoc); err != nil {
				t.Fatal(err)
			}
			delete(serverDoc["kafka"].(map[string]any), "tls")
			delete(serverDoc["kafka"].(map[string]any), "sasl")
			if !equalJSON(serverDoc, migrateDoc) {
				t.Errorf("migrate config is not the server's without kafka.tls and kafka.sasl:\n%s", mcm.Data["wallet.yaml"])
			}
			jobC := migrationJob(t, r).Spec.Template.Spec.Containers[0]
			if _, err := loadRendered(t, mcm.Data["wallet.yaml"], envByName(jobC), true); err != nil {
				t.Errorf("wallet migrate would refuse its config: %v", err)
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
			// The server's secrets, each from the Secret values name (the chart's
			// defaults for the region's own and the seal's).
			wantRefs := map[string]string{
				"WALLET_AUTH__REGION_SECRET":      "wallet-region-secret/secret",
				"WALLET_AUTH__LEDGER_SEAL_SECRET": "wallet-ledger-seal-secret/secret",
			}
			for _, p := range peers {
				ps := p.(map[string]any)["secret"].(map[string]any)
				wantRefs["WALLET_PEERS__"+strings.ToUpper(p.(map[string]any)["name"].(string))+"__SECRET"] = fmt.Sprint(ps["name"], "/", ps["key"])
			}
			if sasl["mechanism"] != "" {
				ps := sasl["passwordSecret"].(map[string]any)
				wantRefs["WALLET_KAFKA__SASL__PASSWORD"] = fmt.Sprint(ps["name"], "/", ps["key"])
			}
			for env, want := range wantRefs {
				if got := secretRef(serverC, env); got != want {
					t.Errorf("server: %s from %q, want Secret %q", env, got, want)
				}
			}
			for name := range job {
				if strings.HasPrefix(name, "WALLET_AUTH__") || strings.HasPrefix(name, "WALLET_PEERS__") || strings.HasPrefix(name, "WALLET_KAFKA__") {
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
		sub(sub(m, "networkPolicy"), "egress")["enabled"] = true
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
		{"alert duration not Prometheus's", func(m map[string]any) { sub(sub(m, "prometheusRule"), "outbox")["for"] = "5 minutes" }, "for"},
		{"unknown alert setting", func(m map[string]any) { sub(m, "prometheusRule")["outboxAge"] = 60 }, "outboxAge"},
		{"5xx ratio above 1", func(m map[string]any) { sub(sub(m, "prometheusRule"), "httpErrors")["maxRatio"] = 5 }, "maxRatio"},
		{"audit schedule not cron", func(m map[string]any) { sub(m, "audit")["schedule"] = "hourly" }, "schedule"},
		{"audit keeping no failed Job", func(m map[string]any) { sub(m, "audit")["failedJobsHistoryLimit"] = 0 }, "failedJobsHistoryLimit"},
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
		// Peers are reached over https only: the wallet's production profile refuses
		// anything else.
		{"peer over http", func(m map[string]any) {
			m["peers"] = []any{map[string]any{"name": "us", "url": "http://wallet.us.internal"}}
		}, "/peers/0/url"},
		{"peer without scheme", func(m map[string]any) {
			m["peers"] = []any{map[string]any{"name": "us", "url": "wallet.us.internal"}}
		}, "/peers/0/url"},
		{"peer secret without name", func(m map[string]any) {
			m["peers"].([]any)[0].(map[string]any)["secret"] = map[string]any{"key": "secret"}
		}, "/peers/0/secret"},
		{"no region secret", func(m map[string]any) { sub(m, "auth")["regionSecret"] = nil }, "regionSecret"},
		{"no ledger seal secret", func(m map[string]any) { sub(m, "auth")["ledgerSealSecret"] = nil }, "ledgerSealSecret"},
		{"old region token", func(m map[string]any) {
			sub(m, "auth")["regionTokenSecret"] = map[string]any{"name": "wallet-region-token", "key": "token"}
		}, "regionTokenSecret"},
		{"unknown SASL mechanism", func(m map[string]any) { sub(sub(m, "kafka"), "sasl")["mechanism"] = "PLAIN" }, "/kafka/sasl/mechanism"},
		{"TLS enabled as a string", func(m map[string]any) { sub(sub(m, "kafka"), "tls")["enabled"] = "yes" }, "/kafka/tls/enabled"},
		{"unknown TLS key", func(m map[string]any) { sub(sub(m, "kafka"), "tls")["insecureSkipVerify"] = true }, "insecureSkipVerify"},
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
		{"peer listed twice", func(m map[string]any) {
			m["peers"] = append(m["peers"].([]any), map[string]any{"name": "us", "url": "https://x", "secret": map[string]any{"name": "other"}})
		}, `duplicate peer "us"`},
		// The wallet refuses a secret used twice; two uses naming one Secret key are
		// refused before they reach it.
		{"peers share a secret", func(m map[string]any) {
			m["peers"] = append(m["peers"].([]any), map[string]any{"name": "ap", "url": "https://x", "secret": map[string]any{"name": "wallet-peer-us", "key": "secret"}})
		}, "peers[us].secret and peers[ap].secret both name Secret wallet-peer-us key secret"},
		{"peer secret is the region's", func(m map[string]any) {
			m["peers"].([]any)[0].(map[string]any)["secret"] = map[string]any{"name": "wallet-region-secret", "key": "secret"}
		}, "auth.regionSecret and peers[us].secret both name"},
		{"peer default secret is the region's", func(m map[string]any) {
			sub(m, "auth")["regionSecret"] = map[string]any{"name": "wallet-peer-ap", "key": "secret"}
			m["peers"] = append(m["peers"].([]any), map[string]any{"name": "ap", "url": "https://x"})
		}, "auth.regionSecret and peers[ap].secret both name Secret wallet-peer-ap"},
		{"seal secret is the region's", func(m map[string]any) {
			sub(m, "auth")["ledgerSealSecret"] = map[string]any{"name": "wallet-region-secret", "key": "secret"}
		}, "auth.regionSecret and auth.ledgerSealSecret both name"},
		{"seal secret beside a DSN", func(m map[string]any) {
			sub(m, "auth")["ledgerSealSecret"] = map[string]any{"name": "wallet-eu1-owner-dsn", "key": "seal"}
		}, "also holds shard eu1's DSN"},
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
  tls:
    enabled: true
    caSecret: {name: sentinel-kafka-ca, key: ca.crt}
  sasl:
    mechanism: SCRAM-SHA-256
    username: wallet-eu
    passwordSecret: {name: sentinel-kafka-sasl, key: password}
peers:
  - {name: us, url: "https://wallet.us.internal", secret: {name: sentinel-peer-us, key: secret}}
  - {name: ap, url: "https://wallet.ap.internal", secret: {name: sentinel-peer-ap, key: eu-ap}}
auth:
  gatewayTokensSecret: {name: sentinel-gateway-tokens, gateways: [web, partner]}
  regionSecret: {name: sentinel-region-secret, key: secret}
  ledgerSealSecret: {name: sentinel-ledger-seal, key: secret}
currencies: {default: EUR}
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
		"sentinel-region-secret-value-0123456789abcdef",
		"sentinel-ledger-seal-value-0123456789abcdef",
		"sentinel-eu-us-pair-secret-0123456789abcdef",
		"sentinel-eu-ap-pair-secret-0123456789abcdef",
		"Sentinel-Kafka-Pa55",
		"-----BEGIN CERTIFICATE-----",
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
	// "password" may name things (the env var WALLET_KAFKA__SASL__PASSWORD, the key of
	// its Secret), never carry one: no "password=" as in a DSN, no "password:" key.
	for _, s := range append(secretValues, "postgres://", "postgresql://", "sslmode=", "password=", "password:") {
		if strings.Contains(strings.ToLower(text), strings.ToLower(s)) {
			t.Errorf("rendered chart contains secret-looking %q", s)
		}
	}
	if n := len(r.byKind("Secret")); n != 0 {
		t.Errorf("chart renders %d Secrets; it must only reference existing ones", n)
	}
	// Every WALLET_* env var is a secretKeyRef to one of the named Secrets.
	allowed := map[string]bool{"sentinel-eu0-dsn": true, "sentinel-eu1-dsn": true, "sentinel-eu0-owner-dsn": true, "sentinel-eu1-owner-dsn": true,
		"sentinel-gateway-tokens": true, "sentinel-region-secret": true, "sentinel-ledger-seal": true,
		"sentinel-peer-us": true, "sentinel-peer-ap": true, "sentinel-kafka-sasl": true}
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
		"WALLET_AUTH__GATEWAY_TOKENS__WEB", "WALLET_AUTH__GATEWAY_TOKENS__PARTNER",
		"WALLET_AUTH__REGION_SECRET", "WALLET_AUTH__LEDGER_SEAL_SECRET",
		"WALLET_PEERS__US__SECRET", "WALLET_PEERS__AP__SECRET", "WALLET_KAFKA__SASL__PASSWORD",
	} {
		if !seen[name] {
			t.Errorf("env %s missing", name)
		}
	}
	server := deployment(t, r).Spec.Template.Spec.Containers[0]
	for env, want := range map[string]string{
		"WALLET_AUTH__GATEWAY_TOKENS__PARTNER": "sentinel-gateway-tokens/partner",
		"WALLET_AUTH__REGION_SECRET":           "sentinel-region-secret/secret",
		"WALLET_AUTH__LEDGER_SEAL_SECRET":      "sentinel-ledger-seal/secret",
		"WALLET_PEERS__US__SECRET":             "sentinel-peer-us/secret",
		"WALLET_PEERS__AP__SECRET":             "sentinel-peer-ap/eu-ap",
		"WALLET_KAFKA__SASL__PASSWORD":         "sentinel-kafka-sasl/password",
	} {
		if got := secretRef(server, env); got != want {
			t.Errorf("%s from %q, want %q", env, got, want)
		}
	}
	// The CA reaches the server as a mounted Secret, never as text in a manifest.
	var caVolume bool
	for _, v := range deployment(t, r).Spec.Template.Spec.Volumes {
		caVolume = caVolume || (v.Secret != nil && v.Secret.SecretName == "sentinel-kafka-ca")
	}
	if !caVolume {
		t.Errorf("no volume from Secret sentinel-kafka-ca")
	}
	// Values keys that could smuggle a secret in are refused.
	for name, bad := range map[string]func(m map[string]any){
		"env":              func(m map[string]any) { m["env"] = []any{map[string]any{"name": "X", "value": "y"}} },
		"auth.regionToken": func(m map[string]any) { sub(m, "auth")["regionToken"] = "sentinel-region-token-value" },
		"auth.regionSecret.value": func(m map[string]any) {
			sub(sub(m, "auth"), "regionSecret")["value"] = "sentinel-region-secret-value-0123456789abcdef"
		},
		"auth.ledgerSealSecret.value": func(m map[string]any) {
			sub(sub(m, "auth"), "ledgerSealSecret")["value"] = "sentinel-ledger-seal-value-0123456789abcdef"
		},
		"auth.ledgerSeal": func(m map[string]any) { sub(m, "auth")["ledgerSeal"] = "sentinel-ledger-seal-value-0123456789abcdef" },
		"peers[].secret.value": func(m map[string]any) {
			sub(m["peers"].([]any)[0].(map[string]any), "secret")["value"] = "sentinel-eu-us-pair-secret-0123456789abcdef"
		},
		"peers[].secret as a string": func(m map[string]any) {
			m["peers"].([]any)[0].(map[string]any)["secret"] = "sentinel-eu-us-pair-secret-0123456789abcdef"
		},
		"kafka.sasl.password": func(m map[string]any) { sub(sub(m, "kafka"), "sasl")["password"] = "Sentinel-Kafka-Pa55" },
		"kafka.sasl.passwordSecret.value": func(m map[string]any) {
			sub(sub(sub(m, "kafka"), "sasl"), "passwordSecret")["value"] = "Sentinel-Kafka-Pa55"
		},
		"kafka.tls.ca": func(m map[string]any) { sub(sub(m, "kafka"), "tls")["ca"] = "-----BEGIN CERTIFICATE-----" },
	} {
		_, err := renderChart(ch, modify(t, readValues(t, valuesFile), bad))
		if err == nil || !strings.Contains(err.Error(), "values don't meet the specifications of the schema") {
			t.Errorf("%s: schema accepted a values key that could carry a secret (err %v)", name, err)
		}
	}
}

// TestKafkaSecurity: with TLS and SASL on, the server pods mount the CA Secret
// read-only, wallet.yaml points kafka.tls.ca_file at it, the password arrives from its
// Secret, and the wallet accepts the result; the migration Job and the test pod, which
// do not talk to Kafka, get neither the CA nor the password. Settings the wallet would
// refuse, or that would do nothing, are refused at render time.
func TestKafkaSecurity(t *testing.T) {
	ch := loadChart(t)
	base := readValues(t, filepath.Join(regionsDir, "eu", "values.yaml"))
	secure := modify(t, base, func(m map[string]any) {
		k := sub(m, "kafka")
		k["tls"] = map[string]any{"enabled": true, "caSecret": map[string]any{"name": "kafka-eu-ca", "key": "bundle.pem"}, "serverName": "kafka.kafka-eu.svc"}
		k["sasl"] = map[string]any{"mechanism": "SCRAM-SHA-256", "username": "wallet-eu", "passwordSecret": map[string]any{"name": "kafka-eu-wallet", "key": "pw"}}
	})

	t.Run("TLS and SASL", func(t *testing.T) {
		r := mustRender(t, ch, secure)
		ps := deployment(t, r).Spec.Template.Spec
		c := ps.Containers[0]

		// The CA bundle's key is mounted under a fixed name, read-only.
		var caVolume *corev1.Volume
		for i, v := range ps.Volumes {
			if v.Secret != nil && v.Secret.SecretName == "kafka-eu-ca" {
				caVolume = &ps.Volumes[i]
			}
		}
		if caVolume == nil || len(caVolume.Secret.Items) != 1 || caVolume.Secret.Items[0].Key != "bundle.pem" {
			t.Fatalf("no volume with the CA bundle of Secret kafka-eu-ca: %+v", ps.Volumes)
		}
		var caFile string
		for _, vm := range c.VolumeMounts {
			if vm.Name == caVolume.Name {
				if !vm.ReadOnly || vm.SubPath != "" {
					t.Errorf("CA mounted as %+v, want read-only, whole volume", vm)
				}
				caFile = vm.MountPath + "/" + caVolume.Secret.Items[0].Path
			}
		}
		if caFile == "" {
			t.Fatalf("CA volume %s not mounted: %+v", caVolume.Name, c.VolumeMounts)
		}

		cm := r.get(t, "ConfigMap", "wallet-config").(*corev1.ConfigMap)
		var cfg walletConfig
		if err := yaml.UnmarshalStrict([]byte(cm.Data["wallet.yaml"]), &cfg); err != nil {
			t.Fatalf("wallet.yaml: %v\n%s", err, cm.Data["wallet.yaml"])
		}
		if cfg.Kafka.TLS == nil || !cfg.Kafka.TLS.Enabled || cfg.Kafka.TLS.CAFile != caFile || cfg.Kafka.TLS.ServerName != "kafka.kafka-eu.svc" {
			t.Errorf("kafka.tls = %+v, want enabled, ca_file %s, server_name kafka.kafka-eu.svc", cfg.Kafka.TLS, caFile)
		}
		if cfg.Kafka.SASL == nil || cfg.Kafka.SASL.Mechanism != "SCRAM-SHA-256" || cfg.Kafka.SASL.Username != "wallet-eu" {
			t.Errorf("kafka.sasl = %+v", cfg.Kafka.SASL)
		}
		if got := secretRef(c, "WALLET_KAFKA__SASL__PASSWORD"); got != "kafka-eu-wallet/pw" {
			t.Errorf("WALLET_KAFKA__SASL__PASSWORD from %q, want Secret kafka-eu-wallet key pw", got)
		}

		loaded, err := loadRendered(t, cm.Data["wallet.yaml"], envByName(c), false)
		if err != nil {
			t.Fatalf("wallet would refuse the rendered config: %v", err)
		}
		want := config.Kafka{
			Brokers: loaded.Kafka.Brokers, TopicPrefix: "wallet", Partitions: loaded.Kafka.Partitions,
			TLS:  config.KafkaTLS{Enabled: true, CAFile: caFile, ServerName: "kafka.kafka-eu.svc"},
			SASL: config.KafkaSASL{Mechanism: "SCRAM-SHA-256", Username: "wallet-eu", Password: standIn("WALLET_KAFKA__SASL__PASSWORD")},
		}
		if !equalJSON(loaded.Kafka, want) {
			t.Errorf("wallet loaded kafka %+v, want %+v", loaded.Kafka, want)
		}

		// Neither the migration Job nor the test pod talks to Kafka: no CA, no password.
		for owner, pod := range podSpecs(t, r) {
			if owner == "server" {
				continue
			}
			for _, v := range pod.Spec.Volumes {
				if v.Secret != nil || v.Projected != nil {
					t.Errorf("%s mounts Secret volume %s", owner, v.Name)
				}
			}
			for _, pc := range pod.Spec.Containers {
				if _, ok := envByName(pc)["WALLET_KAFKA__SASL__PASSWORD"]; ok {
					t.Errorf("%s holds the Kafka password", owner)
				}
			}
		}
		mcm := r.get(t, "ConfigMap", "wallet-migrate-config").(*corev1.ConfigMap)
		if strings.Contains(mcm.Data["wallet.yaml"], "tls:") || strings.Contains(mcm.Data["wallet.yaml"], "sasl:") {
			t.Errorf("migrate config carries Kafka security:\n%s", mcm.Data["wallet.yaml"])
		}
		if _, err := loadRendered(t, mcm.Data["wallet.yaml"], envByName(migrationJob(t, r).Spec.Template.Spec.Containers[0]), true); err != nil {
			t.Errorf("wallet migrate would refuse its config: %v", err)
		}
	})

	t.Run("TLS with the system roots", func(t *testing.T) {
		r := mustRender(t, ch, modify(t, secure, func(m map[string]any) {
			sub(sub(sub(m, "kafka"), "tls"), "caSecret")["name"] = ""
			sub(sub(m, "kafka"), "tls")["serverName"] = ""
		}))
		ps := deployment(t, r).Spec.Template.Spec
		if len(ps.Volumes) != 1 || len(ps.Containers[0].VolumeMounts) != 1 {
			t.Errorf("volumes %+v mounts %+v, want the config alone", ps.Volumes, ps.Containers[0].VolumeMounts)
		}
		cm := r.get(t, "ConfigMap", "wallet-config").(*corev1.ConfigMap)
		loaded, err := loadRendered(t, cm.Data["wallet.yaml"], envByName(ps.Containers[0]), false)
		if err != nil {
			t.Fatalf("wallet would refuse the rendered config: %v", err)
		}
		if loaded.Kafka.TLS != (config.KafkaTLS{Enabled: true}) {
			t.Errorf("kafka.tls loaded as %+v, want enabled with the system roots", loaded.Kafka.TLS)
		}
	})

	t.Run("chart defaults: plaintext, no identity", func(t *testing.T) {
		r := mustRender(t, ch, modify(t, base, func(m map[string]any) {
			delete(sub(m, "kafka"), "tls")
			delete(sub(m, "kafka"), "sasl")
		}))
		ps := deployment(t, r).Spec.Template.Spec
		if len(ps.Volumes) != 1 {
			t.Errorf("volumes %+v, want the config alone", ps.Volumes)
		}
		if _, ok := envByName(ps.Containers[0])["WALLET_KAFKA__SASL__PASSWORD"]; ok {
			t.Errorf("password env without a mechanism")
		}
		cm := r.get(t, "ConfigMap", "wallet-config").(*corev1.ConfigMap)
		loaded, err := loadRendered(t, cm.Data["wallet.yaml"], envByName(ps.Containers[0]), false)
		if err != nil {
			t.Fatalf("wallet would refuse the rendered config: %v", err)
		}
		if loaded.Kafka.TLS != (config.KafkaTLS{}) || loaded.Kafka.SASL != (config.KafkaSASL{}) {
			t.Errorf("kafka loaded as %+v %+v", loaded.Kafka.TLS, loaded.Kafka.SASL)
		}
	})

	for name, tc := range map[string]struct {
		mutate  func(m map[string]any)
		wantErr string
	}{
		"SASL without TLS": {func(m map[string]any) {
			sub(m, "kafka")["tls"] = map[string]any{"enabled": false, "caSecret": map[string]any{"name": ""}}
		}, "kafka.sasl.mechanism SCRAM-SHA-256 needs kafka.tls.enabled"},
		"mechanism without username": {func(m map[string]any) {
			sub(sub(m, "kafka"), "sasl")["username"] = ""
		}, "needs kafka.sasl.username and kafka.sasl.passwordSecret.name"},
		"mechanism without password Secret": {func(m map[string]any) {
			sub(sub(sub(m, "kafka"), "sasl"), "passwordSecret")["name"] = ""
		}, "needs kafka.sasl.username and kafka.sasl.passwordSecret.name"},
		"username without mechanism": {func(m map[string]any) {
			sub(sub(m, "kafka"), "sasl")["mechanism"] = ""
		}, "kafka.sasl has a username or a passwordSecret but no mechanism"},
		"CA without TLS": {func(m map[string]any) {
			sub(m, "kafka")["sasl"] = map[string]any{"mechanism": "", "username": "", "passwordSecret": map[string]any{"name": ""}}
			sub(sub(m, "kafka"), "tls")["enabled"] = false
		}, "kafka.tls.caSecret or kafka.tls.serverName is set but kafka.tls.enabled is false"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := renderChart(ch, modify(t, secure, tc.mutate))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want error containing %q, got %v", tc.wantErr, err)
			}
		})
	}
}

// TestPeerSecrets: each peer's secret comes from its own Secret, by default
// wallet-peer-<name> / secret, and the wallet accepts one pair secret per peer.
func TestPeerSecrets(t *testing.T) {
	ch := loadChart(t)
	base := readValues(t, filepath.Join(regionsDir, "eu", "values.yaml"))
	r := mustRender(t, ch, modify(t, base, func(m map[string]any) {
		sub(sub(m, "networkPolicy"), "egress")["peers"] = map[string]any{"ports": []any{443, 8443}}
		m["peers"] = []any{
			map[string]any{"name": "us", "url": "https://wallet.us.internal", "secret": map[string]any{"name": "eu-us", "key": "shared"}},
			map[string]any{"name": "ap", "url": "https://wallet.ap.internal:8443/"},
			map[string]any{"name": "sa", "url": "https://wallet.sa.internal", "secret": map[string]any{"name": "eu-sa"}},
		}
	}))
	c := deployment(t, r).Spec.Template.Spec.Containers[0]
	for env, want := range map[string]string{
		"WALLET_PEERS__US__SECRET": "eu-us/shared",
		"WALLET_PEERS__AP__SECRET": "wallet-peer-ap/secret",
		"WALLET_PEERS__SA__SECRET": "eu-sa/secret",
	} {
		if got := secretRef(c, env); got != want {
			t.Errorf("%s from %q, want %q", env, got, want)
		}
	}
	cm := r.get(t, "ConfigMap", "wallet-config").(*corev1.ConfigMap)
	loaded, err := loadRendered(t, cm.Data["wallet.yaml"], envByName(c), false)
	if err != nil {
		t.Fatalf("wallet would refuse the rendered config: %v", err)
	}
	for _, peer := range []string{"us", "ap", "sa"} {
		env := "WALLET_PEERS__" + strings.ToUpper(peer) + "__SECRET"
		if loaded.Peers[peer].Secret != standIn(env) || loaded.ForwardToken(peer) == "" {
			t.Errorf("peer %s: secret %q, want the content of %s", peer, loaded.Peers[peer].Secret, env)
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
		var mounted, fromConfigMap bool
		for _, vm := range c.VolumeMounts {
			if vm.Name == "config" && vm.MountPath == "/etc/wallet" && vm.ReadOnly {
				mounted = true
			}
		}
		for _, v := range ps.Volumes {
			if v.Name == "config" && v.ConfigMap != nil && v.ConfigMap.Name == "wallet-config" {
				fromConfigMap = true
			}
		}
		if !mounted || !fromConfigMap {
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
		// No writable volumes at all: the config and the Kafka CA, mounted read-only.
		for _, v := range ps.Volumes {
			if v.ConfigMap == nil && v.Secret == nil {
				t.Errorf("unexpected volume %s: %+v", v.Name, v.VolumeSource)
			}
		}
		for _, vm := range c.VolumeMounts {
			if !vm.ReadOnly {
				t.Errorf("volume %s mounted writable at %s", vm.Name, vm.MountPath)
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
			"broker list": func(m map[string]any) { sub(m, "kafka")["brokers"] = []any{"kafka-9.kafka:9093"} },
			"kafka user":  func(m map[string]any) { sub(sub(m, "kafka"), "sasl")["username"] = "wallet-eu-2" },
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
		np := r.get(t, "NetworkPolicy", "wallet").(*networkingv1.NetworkPolicy)
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
		eg := sub(np, "egress")
		eg["enabled"] = true
		eg["rules"] = []any{
			map[string]any{"to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.0.0.0/8"}}}, "ports": []any{map[string]any{"port": 5432}}},
		}
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

	np := r.get(t, "NetworkPolicy", "wallet").(*networkingv1.NetworkPolicy)
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress", "Egress"}) {
		t.Errorf("policyTypes = %v", np.Spec.PolicyTypes)
	}
	if len(np.Spec.Ingress) != 2 || len(np.Spec.Ingress[0].From) != 2 || np.Spec.Ingress[0].Ports[0].Port.String() != "http" ||
		np.Spec.Ingress[1].From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" ||
		np.Spec.Ingress[1].Ports[0].Port.String() != "admin" {
		t.Errorf("ingress = %+v", np.Spec.Ingress)
	}
	// The extra rule follows DNS, PostgreSQL, Kafka, peers and webhook endpoints.
	if len(np.Spec.Egress) != 6 || np.Spec.Egress[5].To[0].IPBlock.CIDR != "10.0.0.0/8" || np.Spec.Egress[5].Ports[0].Port.IntValue() != 5432 {
		t.Errorf("egress = %+v", np.Spec.Egress)
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

// ---------------------------------------------------------------------------
// egress, images, ephemeral storage, spreading

// busyboxImage is what the `helm test` pod runs by default: the tag for a reader, the
// digest (the multi-arch index of docker.io/library/busybox:1.36.1) for the kubelet.
const busyboxImage = "busybox:1.36.1@sha256:73aaf090f3d85aa34ee199857f03fa3a95c8ede2ffd4cc2cdb5b94e566b11662"

// podSpecs returns every pod the chart renders, by what owns it.
func podSpecs(t *testing.T, r rendered) map[string]corev1.PodTemplateSpec {
	t.Helper()
	out := map[string]corev1.PodTemplateSpec{
		"server":  deployment(t, r).Spec.Template,
		"migrate": migrationJob(t, r).Spec.Template,
	}
	for _, m := range r.byKind("Pod") {
		p := m.obj.(*corev1.Pod)
		out["test"] = corev1.PodTemplateSpec{ObjectMeta: p.ObjectMeta, Spec: p.Spec}
	}
	for _, m := range r.byKind("CronJob") {
		out["audit"] = m.obj.(*batchv1.CronJob).Spec.JobTemplate.Spec.Template
	}
	return out
}

// policiesFor returns the NetworkPolicies that select pod.
func policiesFor(t *testing.T, r rendered, pod corev1.PodTemplateSpec) []*networkingv1.NetworkPolicy {
	t.Helper()
	var out []*networkingv1.NetworkPolicy
	for _, m := range r.byKind("NetworkPolicy") {
		np := m.obj.(*networkingv1.NetworkPolicy)
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			t.Fatalf("%s: podSelector: %v", np.Name, err)
		}
		if sel.Matches(labels.Set(pod.Labels)) {
			out = append(out, np)
		}
	}
	return out
}

// onlyPolicyFor returns the single NetworkPolicy selecting pod.
func onlyPolicyFor(t *testing.T, r rendered, pod corev1.PodTemplateSpec) *networkingv1.NetworkPolicy {
	t.Helper()
	nps := policiesFor(t, r, pod)
	if len(nps) != 1 {
		t.Fatalf("%d NetworkPolicies select the pod with labels %v, want 1", len(nps), pod.Labels)
	}
	return nps[0]
}

// egressPorts lists "<proto>/<port>" of every egress rule of np, rule by rule.
func egressPorts(np *networkingv1.NetworkPolicy) [][]string {
	var out [][]string
	for _, rule := range np.Spec.Egress {
		var ports []string
		for _, p := range rule.Ports {
			proto := corev1.ProtocolTCP
			if p.Protocol != nil {
				proto = *p.Protocol
			}
			port := "any"
			if p.Port != nil {
				port = p.Port.String()
			}
			ports = append(ports, string(proto)+"/"+port)
		}
		out = append(out, ports)
	}
	return out
}

// egressRule returns the egress rule of np that opens exactly ports.
func egressRule(t *testing.T, np *networkingv1.NetworkPolicy, ports ...string) networkingv1.NetworkPolicyEgressRule {
	t.Helper()
	for i, got := range egressPorts(np) {
		if slices.Equal(got, ports) {
			return np.Spec.Egress[i]
		}
	}
	t.Fatalf("%s: no egress rule opening exactly %v; rules open %v", np.Name, ports, egressPorts(np))
	return networkingv1.NetworkPolicyEgressRule{}
}

var (
	dnsPorts   = []string{"UDP/53", "TCP/53"}
	kubeDNSPod = networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
	}
)

// TestEgressPolicy: every pod the chart starts has its egress restricted by default,
// each to what it talks to: the server to DNS, its PostgreSQL shards, its Kafka and
// its peer regions; the migration Job to DNS and PostgreSQL only; the test pod to DNS
// and the server's API.
func TestEgressPolicy(t *testing.T) {
	ch := loadChart(t)
	for region, file := range regionFiles(t) {
		t.Run(region, func(t *testing.T) {
			vals := readValues(t, file)
			r := mustRender(t, ch, vals)
			pods := podSpecs(t, r)
			if len(pods) != 3 {
				t.Fatalf("pods = %v", slices.Sorted(maps.Keys(pods)))
			}
			for owner, pod := range pods {
				np := onlyPolicyFor(t, r, pod)
				if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress", "Egress"}) {
					t.Errorf("%s: policy %s has policyTypes %v", owner, np.Name, np.Spec.PolicyTypes)
				}
				// No rule opens a port to every address: each names its destinations.
				for i, rule := range np.Spec.Egress {
					if len(rule.To) == 0 || len(rule.Ports) == 0 {
						t.Errorf("%s: egress rule %d of %s is open: %+v", owner, i, np.Name, rule)
					}
				}
				dns := egressRule(t, np, dnsPorts...)
				if len(dns.To) != 1 || !equalJSON(dns.To[0], kubeDNSPod) {
					t.Errorf("%s: DNS goes to %+v, want the kube-dns pods of kube-system", owner, dns.To)
				}
			}

			server := onlyPolicyFor(t, r, pods["server"])
			// The regions' brokers listen for TLS on 9093.
			if got := egressPorts(server); !equalJSON(got, [][]string{dnsPorts, {"TCP/5432"}, {"TCP/9093"}, {"TCP/443"}, {"TCP/443"}}) {
				t.Errorf("server egress opens %v, want DNS, PostgreSQL, Kafka, peers, webhook endpoints", got)
			}
			// Webhook endpoints: anywhere but the ranges the wallet refuses to deliver to.
			webhooks := server.Spec.Egress[4]
			if len(webhooks.To) != 2 {
				t.Fatalf("webhook egress to %+v, want every IPv4 and IPv6 address but the internal ones", webhooks.To)
			}
			for _, peer := range webhooks.To {
				internal := map[string][]string{"0.0.0.0/0": {"10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"},
					"::/0": {"::1/128", "fc00::/7", "fe80::/10"}}
				if peer.IPBlock == nil || internal[peer.IPBlock.CIDR] == nil {
					t.Fatalf("webhook egress to %+v", peer)
				}
				for _, cidr := range internal[peer.IPBlock.CIDR] {
					if !slices.Contains(peer.IPBlock.Except, cidr) {
						t.Errorf("webhook egress to %s does not except %s", peer.IPBlock.CIDR, cidr)
					}
				}
			}
			// The region's Kafka runs in the cluster, in the namespace its broker names say.
			kafka := egressRule(t, server, "TCP/9093")
			wantKafka := networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kafka-" + region}}}
			if len(kafka.To) != 1 || !equalJSON(kafka.To[0], wantKafka) {
				t.Errorf("kafka egress to %+v, want namespace kafka-%s", kafka.To, region)
			}
			for _, rule := range []networkingv1.NetworkPolicyEgressRule{egressRule(t, server, "TCP/5432"), server.Spec.Egress[3]} {
				port := egressPorts(&networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{rule}}})[0]
				for _, peer := range rule.To {
					if peer.IPBlock == nil || peer.IPBlock.CIDR == "0.0.0.0/0" || peer.IPBlock.CIDR == "::/0" {
						t.Errorf("%s egress to %+v, want private address ranges", port, peer)
					}
				}
			}

			// The migration Job's pods have a policy of their own, created before the Job.
			job := migrationJob(t, r)
			migrate := onlyPolicyFor(t, r, pods["migrate"])
			if migrate.Name == server.Name {
				t.Fatalf("the migration Job shares the server's policy")
			}
			if got := egressPorts(migrate); !equalJSON(got, [][]string{dnsPorts, {"TCP/5432"}}) {
				t.Errorf("migration egress opens %v, want DNS and PostgreSQL only", got)
			}
			if !equalJSON(egressRule(t, migrate, "TCP/5432").To, egressRule(t, server, "TCP/5432").To) {
				t.Errorf("migration and server reach PostgreSQL at different places")
			}
			if len(migrate.Spec.Ingress) != 0 {
				t.Errorf("migration pods accept ingress: %+v", migrate.Spec.Ingress)
			}
			var w, jw int
			_, _ = fmt.Sscan(migrate.Annotations["helm.sh/hook-weight"], &w)
			_, _ = fmt.Sscan(job.Annotations["helm.sh/hook-weight"], &jw)
			if migrate.Annotations["helm.sh/hook"] != job.Annotations["helm.sh/hook"] || w >= jw {
				t.Errorf("migration policy hook %q weight %d; the Job's is %q weight %d",
					migrate.Annotations["helm.sh/hook"], w, job.Annotations["helm.sh/hook"], jw)
			}

			// The test pod reaches the server's API and nothing else.
			test := onlyPolicyFor(t, r, pods["test"])
			if test.Annotations["helm.sh/hook"] != "test" || len(test.Spec.Ingress) != 0 {
				t.Errorf("test policy: hook %q, ingress %+v", test.Annotations["helm.sh/hook"], test.Spec.Ingress)
			}
			api := egressRule(t, test, "TCP/http")
			if len(api.To) != 1 || api.To[0].PodSelector == nil ||
				!equalJSON(api.To[0].PodSelector.MatchLabels, deployment(t, r).Spec.Selector.MatchLabels) {
				t.Errorf("test pod egress to %+v, want the server pods", api.To)
			}
		})
	}

	base := readValues(t, filepath.Join(regionsDir, "eu", "values.yaml"))
	t.Run("destinations from values", func(t *testing.T) {
		r := mustRender(t, ch, modify(t, base, func(m map[string]any) {
			eg := sub(sub(m, "networkPolicy"), "egress")
			eg["postgresql"] = map[string]any{"to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.20.0.0/16"}}}, "ports": []any{5433}}
			eg["peers"] = map[string]any{"ports": []any{443, 8443}}
			eg["dns"] = map[string]any{"to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "169.254.20.10/32"}}}}
			m["peers"] = []any{map[string]any{"name": "us", "url": "https://wallet.us.internal:8443"}}
		}))
		server := onlyPolicyFor(t, r, deployment(t, r).Spec.Template)
		migrate := onlyPolicyFor(t, r, migrationJob(t, r).Spec.Template)
		for _, np := range []*networkingv1.NetworkPolicy{server, migrate} {
			pg := egressRule(t, np, "TCP/5433")
			if len(pg.To) != 1 || pg.To[0].IPBlock == nil || pg.To[0].IPBlock.CIDR != "10.20.0.0/16" {
				t.Errorf("%s: postgresql egress to %+v", np.Name, pg.To)
			}
			if dns := egressRule(t, np, dnsPorts...); len(dns.To) != 1 || dns.To[0].IPBlock == nil || dns.To[0].IPBlock.CIDR != "169.254.20.10/32" {
				t.Errorf("%s: dns egress to %+v", np.Name, dns.To)
			}
		}
		egressRule(t, server, "TCP/443", "TCP/8443")
	})

	t.Run("no peers, no peer rule", func(t *testing.T) {
		r := mustRender(t, ch, modify(t, base, func(m map[string]any) { m["peers"] = []any{} }))
		server := onlyPolicyFor(t, r, deployment(t, r).Spec.Template)
		if got := egressPorts(server); !equalJSON(got, [][]string{dnsPorts, {"TCP/5432"}, {"TCP/9093"}, {"TCP/443"}}) {
			t.Errorf("server egress without peers opens %v, want DNS, PostgreSQL, Kafka and webhook endpoints", got)
		}
	})

	t.Run("egress unrestricted on request", func(t *testing.T) {
		r := mustRender(t, ch, modify(t, base, func(m map[string]any) { sub(sub(m, "networkPolicy"), "egress")["enabled"] = false }))
		for owner, pod := range podSpecs(t, r) {
			np := onlyPolicyFor(t, r, pod)
			if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress"}) || np.Spec.Egress != nil {
				t.Errorf("%s: policyTypes %v egress %+v", owner, np.Spec.PolicyTypes, np.Spec.Egress)
			}
		}
	})

	// A broker or peer on a port the policy does not open would be unreachable once
	// deployed; the chart refuses to render it instead.
	for name, tc := range map[string]struct {
		mutate  func(m map[string]any)
		wantErr string
	}{
		"broker port": {func(m map[string]any) {
			sub(m, "kafka")["brokers"] = []any{"kafka-0.kafka.kafka-eu.svc:9092"}
		}, "networkPolicy.egress.kafka.ports does not open port 9092 of broker kafka-0.kafka.kafka-eu.svc:9092"},
		"peer port": {func(m map[string]any) {
			m["peers"] = []any{map[string]any{"name": "us", "url": "https://wallet.us.internal:8443/"}}
		}, "networkPolicy.egress.peers.ports does not open port 8443 of peer us"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := renderChart(ch, modify(t, base, tc.mutate))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want error containing %q, got %v", tc.wantErr, err)
			}
		})
	}
}

func equalJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// TestMigrationJobHoldsOnlyOwnerDSNs: the migration Job's container receives each
// shard's owner DSN and no other secret, whatever Secrets the server is given.
func TestMigrationJobHoldsOnlyOwnerDSNs(t *testing.T) {
	ch := loadChart(t)
	for region, file := range regionFiles(t) {
		t.Run(region, func(t *testing.T) {
			vals := modify(t, readValues(t, file), func(m map[string]any) {
				sub(sub(m, "auth"), "gatewayTokensSecret")["gateways"] = []any{"web", "partner"}
			})
			r := mustRender(t, ch, vals)
			want := map[string]string{} // env var -> "secret/key"
			for _, s := range vals["shards"].([]any) {
				sm := s.(map[string]any)
				owner := sm["ownerDsnSecret"].(map[string]any)
				want["WALLET_SHARDS__"+strings.ToUpper(sm["name"].(string))+"__OWNER_DSN"] = fmt.Sprint(owner["name"], "/", owner["key"])
			}
			ps := migrationJob(t, r).Spec.Template.Spec
			if len(ps.InitContainers) != 0 || len(ps.Containers) != 1 {
				t.Fatalf("job containers: %d init, %d", len(ps.InitContainers), len(ps.Containers))
			}
			c := ps.Containers[0]
			if len(c.EnvFrom) != 0 {
				t.Errorf("envFrom: %+v", c.EnvFrom)
			}
			got := map[string]string{}
			for _, e := range c.Env {
				switch {
				case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
					got[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
				case e.Name == "GOMEMLIMIT" && e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil:
				default:
					t.Errorf("unexpected env %s: %+v", e.Name, e)
				}
			}
			if !maps.Equal(got, want) {
				t.Errorf("job secrets = %v, want only the owner DSNs %v", got, want)
			}
			for _, v := range ps.Volumes {
				if v.Secret != nil || v.Projected != nil || v.CSI != nil {
					t.Errorf("job mounts volume %s from a secret source: %+v", v.Name, v.VolumeSource)
				}
			}
		})
	}
}

// TestImagesPinned: the images the chart names are pinned by digest, and the wallet
// image can be.
func TestImagesPinned(t *testing.T) {
	ch := loadChart(t)
	base := readValues(t, filepath.Join(regionsDir, "eu", "values.yaml"))
	r := mustRender(t, ch, base)
	tp := podSpecs(t, r)["test"]
	if got := tp.Spec.Containers[0].Image; got != busyboxImage {
		t.Errorf("test pod image = %q, want %q", got, busyboxImage)
	}

	digest := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	pinned := mustRender(t, ch, modify(t, base, func(m map[string]any) {
		sub(m, "image")["digest"] = digest
		sub(m, "image")["tag"] = "1.2.3"
	}))
	for owner, pod := range podSpecs(t, pinned) {
		if owner == "test" {
			continue
		}
		if got := pod.Spec.Containers[0].Image; got != "registry.example.com/wallet@"+digest {
			t.Errorf("%s image = %q, want the digest and not the tag", owner, got)
		}
	}

	// The test image may be re-pinned (e.g. to a mirror), never to a tag alone.
	mirrored := mustRender(t, ch, modify(t, base, func(m map[string]any) {
		sub(sub(m, "tests"), "image")["repository"] = "mirror.example.com/busybox"
		sub(sub(m, "tests"), "image")["digest"] = digest
	}))
	if got := podSpecs(t, mirrored)["test"].Spec.Containers[0].Image; got != "mirror.example.com/busybox:1.36.1@"+digest {
		t.Errorf("mirrored test image = %q", got)
	}
	for name, d := range map[string]any{"empty": "", "tag-like": "1.36.1", "short": "sha256:abc", "null": nil} {
		_, err := renderChart(ch, modify(t, base, func(m map[string]any) { sub(sub(m, "tests"), "image")["digest"] = d }))
		if err == nil || !strings.Contains(err.Error(), "digest") {
			t.Errorf("tests.image.digest %s: want a schema error, got %v", name, err)
		}
	}
}

// TestEphemeralStorage: every container the chart starts requests and is limited in
// ephemeral storage (its logs and any scratch files), from values.
func TestEphemeralStorage(t *testing.T) {
	ch := loadChart(t)
	base := readValues(t, filepath.Join(regionsDir, "eu", "values.yaml"))
	r := mustRender(t, ch, base)
	for owner, pod := range podSpecs(t, r) {
		for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
			req, lim := c.Resources.Requests[corev1.ResourceEphemeralStorage], c.Resources.Limits[corev1.ResourceEphemeralStorage]
			if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
				t.Errorf("%s/%s: ephemeral-storage request %s limit %s", owner, c.Name, req.String(), lim.String())
			}
		}
	}
	changed := mustRender(t, ch, modify(t, base, func(m map[string]any) {
		sub(sub(m, "resources"), "limits")["ephemeral-storage"] = "1Gi"
		sub(sub(sub(m, "tests"), "resources"), "limits")["ephemeral-storage"] = "100Mi"
	}))
	for owner, want := range map[string]string{"server": "1Gi", "migrate": "1Gi", "test": "100Mi"} {
		lim := podSpecs(t, changed)[owner].Spec.Containers[0].Resources.Limits[corev1.ResourceEphemeralStorage]
		if lim.String() != want {
			t.Errorf("%s: ephemeral-storage limit %s, want %s", owner, lim.String(), want)
		}
	}
	for _, path := range [][]string{{"resources", "requests"}, {"resources", "limits"}, {"tests", "resources", "requests"}, {"tests", "resources", "limits"}} {
		_, err := renderChart(ch, modify(t, base, func(m map[string]any) {
			for _, k := range path {
				m = sub(m, k)
			}
			m["ephemeral-storage"] = nil // null removes a default in Helm
		}))
		if err == nil || !strings.Contains(err.Error(), "ephemeral-storage") {
			t.Errorf("%s without ephemeral-storage: want a schema error, got %v", strings.Join(path, "."), err)
		}
	}
}

// TestSpreadForPDB: server pods never share a node while there are nodes to spare,
// so the PodDisruptionBudget's one unavailable pod is one node's worth; zones are
// spread where possible.
func TestSpreadForPDB(t *testing.T) {
	ch := loadChart(t)
	r := mustRender(t, ch, readValues(t, filepath.Join(regionsDir, "eu", "values.yaml")))
	pdb := r.byKind("PodDisruptionBudget")[0].obj.(*policyv1.PodDisruptionBudget)
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.String() != "1" {
		t.Fatalf("pdb maxUnavailable = %v", pdb.Spec.MaxUnavailable)
	}
	byKey := map[string]corev1.TopologySpreadConstraint{}
	for _, c := range deployment(t, r).Spec.Template.Spec.TopologySpreadConstraints {
		byKey[c.TopologyKey] = c
	}
	for key, want := range map[string]corev1.UnsatisfiableConstraintAction{
		"kubernetes.io/hostname":      corev1.DoNotSchedule,
		"topology.kubernetes.io/zone": corev1.ScheduleAnyway,
	} {
		c, ok := byKey[key]
		if !ok {
			t.Errorf("no spread over %s", key)
			continue
		}
		if c.WhenUnsatisfiable != want || c.MaxSkew != 1 {
			t.Errorf("%s: whenUnsatisfiable %s maxSkew %d, want %s 1", key, c.WhenUnsatisfiable, c.MaxSkew, want)
		}
		if c.LabelSelector == nil || !maps.Equal(c.LabelSelector.MatchLabels, pdb.Spec.Selector.MatchLabels) {
			t.Errorf("%s: spreads %v, the PDB counts %v", key, c.LabelSelector, pdb.Spec.Selector.MatchLabels)
		}
		// Nodes the pods cannot run on (tainted control plane, other pools) must not
		// count as empty domains, or DoNotSchedule would leave pods pending.
		if c.NodeTaintsPolicy == nil || *c.NodeTaintsPolicy != corev1.NodeInclusionPolicyHonor ||
			c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy != corev1.NodeInclusionPolicyHonor {
			t.Errorf("%s: nodeTaintsPolicy %v nodeAffinityPolicy %v, want Honor", key, c.NodeTaintsPolicy, c.NodeAffinityPolicy)
		}
	}
}

// TestCurrencyAssetsReachTheWallet: assets configured in the values render into
// wallet.yaml and the wallet's own loader puts them in the region's catalogue; a
// region without a default currency is refused by the schema.
func TestCurrencyAssetsReachTheWallet(t *testing.T) {
	ch := loadChart(t)
	base := readValues(t, filepath.Join(regionsDir, "eu", "values.yaml"))
	withAssets := modify(t, base, func(m map[string]any) {
		sub(m, "currencies")["assets"] = map[string]any{"POINTS": map[string]any{"exponent": 0, "name": "Loyalty points"}, "XAUG": map[string]any{"exponent": 3}}
	})
	r := mustRender(t, ch, withAssets)
	cm := r.get(t, "ConfigMap", "wallet-config").(*corev1.ConfigMap)
	loaded, err := loadRendered(t, cm.Data["wallet.yaml"], envByName(deployment(t, r).Spec.Template.Spec.Containers[0]), false)
	if err != nil {
		t.Fatalf("wallet refuses the rendered config: %v\n%s", err, cm.Data["wallet.yaml"])
	}
	units := loaded.Catalogue()
	if p, ok := units.Lookup("POINTS"); !ok || p.Exponent != 0 || p.Name != "Loyalty points" || units.Default().Code != "EUR" {
		t.Fatalf("POINTS = %+v, %v; default %+v", p, ok, units.Default())
	}
	if g, ok := units.Lookup("XAUG"); !ok || g.Exponent != 3 || g.Name != "XAUG" {
		t.Fatalf("XAUG = %+v, %v", g, ok)
	}

	noDefault := modify(t, base, func(m map[string]any) { delete(m, "currencies") })
	if _, err := renderChart(ch, noDefault); err == nil || !strings.Contains(err.Error(), "currencies") {
		t.Fatalf("values without currencies = %v, want the schema's refusal", err)
	}
}

// TestTracing: tracing is off by default (an empty endpoint in wallet.yaml, no egress
// to a collector); turned on, the wallet loads the rendered settings, the server may
// reach the collector, and a collector port the policy does not open is refused at
// render time, as a broker's is.
func TestTracing(t *testing.T) {
	ch := loadChart(t)
	base := readValues(t, filepath.Join(regionsDir, "eu", "values.yaml"))
	off := mustRender(t, ch, base)
	var cfg walletConfig
	if err := yaml.UnmarshalStrict([]byte(off.get(t, "ConfigMap", "wallet-config").(*corev1.ConfigMap).Data["wallet.yaml"]), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Tracing.OTLPEndpoint != "" || cfg.Tracing.SampleRatio != 1 || cfg.Tracing.ServiceName != "wallet" || cfg.Tracing.BatchTimeout != "5s" {
		t.Errorf("default tracing = %+v, want off, ratio 1, service wallet, 5s", cfg.Tracing)
	}
	for _, ports := range egressPorts(onlyPolicyFor(t, off, podSpecs(t, off)["server"])) {
		if slices.Contains(ports, "TCP/4318") {
			t.Errorf("egress to a collector while tracing is off: %v", ports)
		}
	}

	on := mustRender(t, ch, modify(t, base, func(m map[string]any) {
		m["tracing"] = map[string]any{"otlpEndpoint": "http://otel-collector.observability:4318", "sampleRatio": 0.1,
			"serviceName": "wallet-eu", "batchTimeout": "2s"}
	}))
	server := deployment(t, on).Spec.Template.Spec.Containers[0]
	loaded, err := loadRendered(t, on.get(t, "ConfigMap", "wallet-config").(*corev1.ConfigMap).Data["wallet.yaml"], envByName(server), false)
	if err != nil {
		t.Fatalf("wallet would refuse the rendered config: %v", err)
	}
	if tr := loaded.Tracing; tr.OTLPEndpoint != "http://otel-collector.observability:4318" || tr.SampleRatio != 0.1 ||
		tr.ServiceName != "wallet-eu" || tr.BatchTimeout != 2*time.Second {
		t.Errorf("wallet loaded tracing %+v", tr)
	}
	rule := egressRule(t, onlyPolicyFor(t, on, podSpecs(t, on)["server"]), "TCP/4318")
	want := networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
		MatchLabels: map[string]string{"kubernetes.io/metadata.name": "observability"}}}
	if len(rule.To) != 1 || !equalJSON(rule.To[0], want) {
		t.Errorf("collector egress to %+v, want the observability namespace", rule.To)
	}

	_, err = renderChart(ch, modify(t, base, func(m map[string]any) {
		sub(m, "tracing")["otlpEndpoint"] = "https://collector.example"
	}))
	if err == nil || !strings.Contains(err.Error(), "networkPolicy.egress.tracing.ports does not open port 443") {
		t.Errorf("an https collector on a port the policy does not open rendered: %v", err)
	}
	_, err = renderChart(ch, modify(t, base, func(m map[string]any) {
		sub(m, "tracing")["otlpEndpoint"] = "collector:4318"
	}))
	if err == nil || !strings.Contains(err.Error(), "otlpEndpoint") {
		t.Errorf("an endpoint without a scheme rendered: %v", err)
	}
}

// TestGatewayScopesReachTheWallet: scopes in the values render into wallet.yaml and the
// wallet's loader gives each gateway its own (a gateway not listed keeps payments and
// read); a scope the wallet does not know is refused by the schema.
func TestGatewayScopesReachTheWallet(t *testing.T) {
	ch := loadChart(t)
	base := readValues(t, filepath.Join(regionsDir, "eu", "values.yaml"))
	scoped := modify(t, base, func(m map[string]any) {
		a := sub(m, "auth")
		sub(a, "gatewayTokensSecret")["gateways"] = []any{"web", "partner"}
		a["gatewayScopes"] = map[string]any{"partner": []any{"read"}}
	})
	r := mustRender(t, ch, scoped)
	cm := r.get(t, "ConfigMap", "wallet-config").(*corev1.ConfigMap)
	loaded, err := loadRendered(t, cm.Data["wallet.yaml"], envByName(deployment(t, r).Spec.Template.Spec.Containers[0]), false)
	if err != nil {
		t.Fatalf("wallet refuses the rendered config: %v\n%s", err, cm.Data["wallet.yaml"])
	}
	if got := loaded.ScopesOf("partner"); !slices.Equal(got, []string{"read"}) {
		t.Errorf("partner's scopes = %v, want [read]", got)
	}
	if got := loaded.ScopesOf("web"); !slices.Equal(got, config.DefaultScopes) {
		t.Errorf("web's scopes = %v, want the default %v", got, config.DefaultScopes)
	}
	bad := modify(t, base, func(m map[string]any) { sub(m, "auth")["gatewayScopes"] = map[string]any{"partner": []any{"admin"}} })
	if _, err := renderChart(ch, bad); err == nil || !strings.Contains(err.Error(), "gatewayScopes") {
		t.Errorf("an unknown scope rendered: %v", err)
	}
}
