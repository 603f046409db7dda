package helm_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The chart's monitoring: the Grafana dashboard, the PrometheusRule and the audit
// CronJob. PromQL is checked by promtool itself, built from the Go module proxy at the
// version the wallet pins (go run caches the binary, so only the first run builds it).

const promtoolPkg = "github.com/prometheus/prometheus/cmd/promtool@v0.316.0"

// prometheusRule is the subset of monitoring.coreos.com/v1 PrometheusRule the chart
// renders; decoding is strict, so any field the chart adds must be listed here.
type prometheusRule struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Groups []ruleGroup `json:"groups"`
	} `json:"spec"`
}

// ruleGroup is a Prometheus rule group, as a rule file holds it too.
type ruleGroup struct {
	Name  string `json:"name"`
	Rules []rule `json:"rules"`
}

type rule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// promtool runs promtool with args in dir and returns its output; a failure fails the
// test with that output.
func promtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"run", promtoolPkg}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// writeRuleFile writes groups as a Prometheus rule file in dir.
func writeRuleFile(t *testing.T, dir, name string, groups []ruleGroup) {
	t.Helper()
	b, err := yaml.Marshal(map[string]any{"groups": groups})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

var (
	metricNameInCode = regexp.MustCompile(`(?:Name:\s*|prometheus\.NewDesc\()"(wallet_[a-z0-9_]+)"`)
	// A selector: a metric name and its label matchers. Every expression here gives
	// each selector matchers, so a bare name is caught by walletName below.
	selectorRe = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)
	walletName = regexp.MustCompile(`\bwallet_[a-z0-9_]+\b`)
)

// exportedMetrics lists the metric names the wallet's code registers (read from the
// source of every package the binary is built from), with the series a histogram
// adds.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, root := range []string{"../platform", "../modules", "../cmd"} {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range metricNameInCode.FindAllStringSubmatch(string(src), -1) {
				for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
					out[m[1]+suffix] = true
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The metrics the dashboard and the alerts cannot do without: if one of these is
	// renamed, this list and the panels change together.
	for _, name := range []string{"wallet_http_requests_total", "wallet_transfers_pending", "wallet_transfers_pending_oldest_seconds",
		"wallet_transfers_ttl_seconds", "wallet_outbox_oldest_unsent_seconds", "wallet_consumer_lag", "wallet_dlq_messages_total",
		"wallet_dependency_up", "wallet_transfer_completion_seconds_bucket"} {
		if !out[name] {
			t.Fatalf("the code no longer registers %s (found %v)", name, sortedKeys(out))
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// kubeStateMetrics are the kube-state-metrics series the audit's alerts read.
var kubeStateMetrics = map[string]bool{
	"kube_job_status_failed": true, "kube_job_created": true, "kube_cronjob_status_last_successful_time": true,
}

// checkMetricNames fails for every metric expr selects that neither the wallet nor
// (when allowed) kube-state-metrics exports, and for every selector without want in
// its matchers.
func checkMetricNames(t *testing.T, where, expr string, exported map[string]bool, allowKube bool, want string) {
	t.Helper()
	for _, m := range selectorRe.FindAllStringSubmatch(expr, -1) {
		name, matchers := m[1], m[2]
		if known := exported[name] || (allowKube && kubeStateMetrics[name]); !known {
			t.Errorf("%s: %s is not a metric the wallet exports", where, name)
		}
		if !strings.Contains(matchers, want) {
			t.Errorf("%s: selector %s{%s} lacks %s", where, name, matchers, want)
		}
	}
	for _, name := range walletName.FindAllString(expr, -1) {
		if !exported[name] {
			t.Errorf("%s: %s is not a metric the wallet exports", where, name)
		}
	}
}

type dashboard struct {
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
		GridPos struct {
			H, W, X, Y int
		} `json:"gridPos"`
		Targets []struct {
			Expr         string `json:"expr"`
			RefID        string `json:"refId"`
			LegendFormat string `json:"legendFormat"`
		} `json:"targets"`
	} `json:"panels"`
}

// TestDashboard checks the Grafana dashboard: valid JSON, every panel's query valid
// PromQL (promtool parses each as a recording rule, with Grafana's variables replaced),
// every metric one the wallet exports, every selector scoped to the chosen regions, and
// a panel for each question the runbook sends an operator to.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "dashboards", "wallet.json"))
	if err != nil {
		t.Fatal(err)
	}
	var board dashboard
	if err := json.Unmarshal(raw, &board); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if board.UID == "" || board.Title == "" {
		t.Errorf("uid/title missing")
	}
	var vars []string
	for _, v := range board.Templating.List {
		vars = append(vars, v.Name)
	}
	if !slices.Equal(vars, []string{"datasource", "namespace"}) {
		t.Errorf("variables = %v, want datasource and namespace (the region)", vars)
	}

	exported := exportedMetrics(t)
	grafanaVars := strings.NewReplacer("$__rate_interval", "1m", "$namespace", ".*")
	var recording []rule
	titles := map[string][]string{}
	ids := map[int]bool{}
	for _, p := range board.Panels {
		if ids[p.ID] {
			t.Errorf("duplicate panel id %d", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		if p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %q has no size", p.Title)
		}
		for _, tg := range p.Targets {
			checkMetricNames(t, "panel "+p.Title, tg.Expr, exported, false, `namespace=~"$namespace"`)
			titles[p.Title] = append(titles[p.Title], tg.Expr)
			recording = append(recording, rule{Record: fmt.Sprintf("dashboard:panel_%d_%s", p.ID, strings.ToLower(tg.RefID)), Expr: grafanaVars.Replace(tg.Expr)})
		}
	}
	dir := t.TempDir()
	writeRuleFile(t, dir, "dashboard.yaml", []ruleGroup{{Name: "dashboard", Rules: recording}})
	if out := promtool(t, dir, "check", "rules", "dashboard.yaml"); !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool check rules of the dashboard's queries:\n%s", out)
	}

	// The panels: per region, request rate and errors by route and code,
	// latency, TCC completion time, pending transfers by age, outbox age per shard,
	// consumer lag, dead letters, dependency up/down.
	for title, want := range map[string][]string{
		"Requests by route and status":      {"wallet_http_requests_total", "by (namespace, route, method, status)"},
		"Errors by route and code":          {"wallet_http_requests_total", `status=~"[45].."`, "by (namespace, route, method, status)"},
		"Latency (p50 / p95 / p99)":         {"wallet_http_request_duration_seconds_bucket", "by (namespace, le)"},
		"TCC completion time":               {"wallet_transfer_completion_seconds_bucket", "by (namespace, le)"},
		"Pending transfers by age":          {"wallet_transfers_pending{", "by (namespace, age)"},
		"Oldest pending transfer vs TTL":    {"wallet_transfers_pending_oldest_seconds", "wallet_transfers_ttl_seconds"},
		"Outbox oldest unsent age by shard": {"wallet_outbox_oldest_unsent_seconds", "by (namespace, shard, region)"},
		"Consumer lag by topic":             {"wallet_consumer_lag", "by (namespace, topic)"},
		"Dead letters":                      {"wallet_dlq_messages_total", "by (namespace, topic)"},
		"Dependency health":                 {"wallet_dependency_up", "by (namespace, dependency)"},
	} {
		exprs := strings.Join(titles[title], "\n")
		if exprs == "" {
			t.Errorf("no panel %q", title)
		}
		for _, w := range want {
			if !strings.Contains(exprs, w) {
				t.Errorf("panel %q: no %s in %s", title, w, exprs)
			}
		}
	}
}

// TestPrometheusRules renders the alerts of region eu and checks them with promtool:
// `check rules` (syntax, PromQL, templates) and `test rules` (testdata/alerts_test.yaml:
// each alert fires on synthetic series that should fire it, and not on those that
// should not). Every alert reads only its own region, uses metrics that exist, and
// links to its section of the runbook.
func TestPrometheusRules(t *testing.T) {
	ch := loadChart(t)
	base := readValues(t, filepath.Join(regionsDir, "eu", "values.yaml"))
	if n := len(mustRender(t, ch, base).byKind("PrometheusRule")); n != 0 {
		t.Fatalf("PrometheusRules rendered by default: %d", n)
	}
	vals := modify(t, base, func(m map[string]any) {
		sub(m, "prometheusRule")["enabled"] = true
		sub(m, "prometheusRule")["labels"] = map[string]any{"release": "prometheus"}
		sub(m, "audit")["enabled"] = true
	})
	r := mustRender(t, ch, vals)
	rules := r.byKind("PrometheusRule")
	if len(rules) != 1 {
		t.Fatalf("PrometheusRules = %d", len(rules))
	}
	pr := rules[0].obj.(*prometheusRule)
	if pr.Metadata.Name != "wallet" || pr.Metadata.Labels["release"] != "prometheus" || pr.Metadata.Labels["wallet.example.com/region"] != "eu" {
		t.Errorf("PrometheusRule metadata = %+v", pr.Metadata)
	}

	runbook, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	exported := exportedMetrics(t)
	var alerts []string
	for _, g := range pr.Spec.Groups {
		for _, rl := range g.Rules {
			alerts = append(alerts, rl.Alert)
			where := "alert " + rl.Alert
			checkMetricNames(t, where, rl.Expr, exported, true, `namespace="wallet-eu"`)
			if s := rl.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q", where, s)
			}
			if rl.Annotations["summary"] == "" || rl.Annotations["description"] == "" {
				t.Errorf("%s: no summary or description", where)
			}
			anchor := strings.ToLower(rl.Alert)
			if want := "https://github.com/example/wallet/blob/main/docs/operations.md#" + anchor; rl.Annotations["runbook_url"] != want {
				t.Errorf("%s: runbook_url %q, want %q", where, rl.Annotations["runbook_url"], want)
			}
			if !bytes.Contains(runbook, []byte("\n### "+rl.Alert+"\n")) {
				t.Errorf("%s: docs/operations.md has no section \"### %s\"", where, rl.Alert)
			}
		}
	}
	sort.Strings(alerts)
	want := []string{"WalletAbsent", "WalletAuditFailed", "WalletAuditNotRun", "WalletConsumerLagging", "WalletDeadLetters",
		"WalletDependencyDown", "WalletHTTPErrors", "WalletOutboxStuck", "WalletTransfersPendingPastTTL", "WalletWebhooksBehind", "WalletWebhooksFailing"}
	if !slices.Equal(alerts, want) {
		t.Errorf("alerts = %v, want %v", alerts, want)
	}

	dir := t.TempDir()
	writeRuleFile(t, dir, "wallet-rules.yaml", pr.Spec.Groups)
	unit, err := os.ReadFile(filepath.Join("testdata", "alerts_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts_test.yaml"), unit, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := promtool(t, dir, "check", "rules", "wallet-rules.yaml"); !strings.Contains(out, "SUCCESS: 11 rules found") {
		t.Errorf("promtool check rules:\n%s", out)
	}
	if out := promtool(t, dir, "test", "rules", "alerts_test.yaml"); !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules:\n%s", out)
	}

	// Without the audit CronJob, no audit alerts.
	noAudit := mustRender(t, ch, modify(t, vals, func(m map[string]any) { sub(m, "audit")["enabled"] = false }))
	for _, g := range noAudit.byKind("PrometheusRule")[0].obj.(*prometheusRule).Spec.Groups {
		if strings.HasSuffix(g.Name, ".audit") {
			t.Errorf("audit alerts rendered without the audit: %+v", g)
		}
	}
}

// TestAuditCronJob: the audit runs on schedule for the region, with its shard DSNs (a
// read-only role's, or the server's) and nothing else secret, the migration Job's configuration (which the wallet
// loads), no Kafka, a discrepancy failing the Job at once, and a NetworkPolicy that lets
// it reach only DNS and PostgreSQL.
func TestAuditCronJob(t *testing.T) {
	ch := loadChart(t)
	base := readValues(t, filepath.Join(regionsDir, "eu", "values.yaml"))
	if n := len(mustRender(t, ch, base).byKind("CronJob")); n != 0 {
		t.Fatalf("CronJobs rendered by default: %d", n)
	}
	r := mustRender(t, ch, modify(t, base, func(m map[string]any) {
		sub(m, "audit")["enabled"] = true
		sub(m, "audit")["schedule"] = "*/30 * * * *"
	}))
	cj := r.get(t, "CronJob", "wallet-audit").(*batchv1.CronJob)
	if cj.Spec.Schedule != "*/30 * * * *" || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent ||
		cj.Spec.TimeZone == nil || *cj.Spec.TimeZone != "Etc/UTC" {
		t.Errorf("schedule %q, concurrency %q, timeZone %v", cj.Spec.Schedule, cj.Spec.ConcurrencyPolicy, cj.Spec.TimeZone)
	}
	job := cj.Spec.JobTemplate.Spec
	if job.PodFailurePolicy == nil || len(job.PodFailurePolicy.Rules) != 1 ||
		job.PodFailurePolicy.Rules[0].Action != batchv1.PodFailurePolicyActionFailJob ||
		!slices.Equal(job.PodFailurePolicy.Rules[0].OnExitCodes.Values, []int32{1}) || job.BackoffLimit == nil || *job.BackoffLimit != 2 {
		t.Errorf("a discrepancy must fail the Job at once, a read error be retried: %+v, backoffLimit %v", job.PodFailurePolicy, job.BackoffLimit)
	}
	pod := job.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever || len(pod.Containers) != 1 {
		t.Fatalf("pod = %+v", pod)
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Args, []string{"audit", "--config", "/etc/wallet/wallet.yaml", "--json", "--pending-older-than", "10m"}) {
		t.Errorf("args = %v", c.Args)
	}
	server := deployment(t, r).Spec.Template.Spec.Containers[0]
	if c.Image != server.Image || *c.SecurityContext.ReadOnlyRootFilesystem != true || *c.SecurityContext.RunAsNonRoot != true {
		t.Errorf("image %q (server %q), securityContext %+v", c.Image, server.Image, c.SecurityContext)
	}
	env := envByName(c)
	var names []string
	for name := range env {
		names = append(names, name)
	}
	sort.Strings(names)
	if !slices.Equal(names, []string{"GOMEMLIMIT", "WALLET_SHARDS__EU0__DSN", "WALLET_SHARDS__EU1__DSN"}) {
		t.Errorf("audit env = %v, want the shards' DSNs alone", names)
	}
	for _, name := range []string{"WALLET_SHARDS__EU0__DSN", "WALLET_SHARDS__EU1__DSN"} {
		if got, want := secretRef(c, name), secretRef(server, name); got == "" || got != want {
			t.Errorf("%s from %q, want the server's %q", name, got, want)
		}
	}
	for _, v := range pod.Volumes {
		if v.Secret != nil || v.Projected != nil {
			t.Errorf("audit mounts Secret volume %s", v.Name)
		}
	}
	// A read-only role of its own, when the shard names one.
	own := mustRender(t, ch, modify(t, base, func(m map[string]any) {
		sub(m, "audit")["enabled"] = true
		m["shards"].([]any)[1].(map[string]any)["auditDsnSecret"] = map[string]any{"name": "wallet-eu1-audit-dsn"}
	}))
	oc := own.get(t, "CronJob", "wallet-audit").(*batchv1.CronJob).Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	if got0, got1 := secretRef(oc, "WALLET_SHARDS__EU0__DSN"), secretRef(oc, "WALLET_SHARDS__EU1__DSN"); got0 != secretRef(server, "WALLET_SHARDS__EU0__DSN") || got1 != "wallet-eu1-audit-dsn/dsn" {
		t.Errorf("audit DSNs from %q and %q, want the server's for eu0 and wallet-eu1-audit-dsn/dsn for eu1", got0, got1)
	}

	cm := r.get(t, "ConfigMap", "wallet-audit-config").(*corev1.ConfigMap)
	if strings.Contains(cm.Data["wallet.yaml"], "tls:") || strings.Contains(cm.Data["wallet.yaml"], "sasl:") {
		t.Errorf("audit config carries Kafka security:\n%s", cm.Data["wallet.yaml"])
	}
	if pod.Volumes[0].ConfigMap == nil || pod.Volumes[0].ConfigMap.Name != cm.Name {
		t.Errorf("volumes = %+v, want the ConfigMap %s", pod.Volumes, cm.Name)
	}
	loaded, err := loadRendered(t, cm.Data["wallet.yaml"], env, true)
	if err != nil {
		t.Fatalf("wallet audit would refuse its config: %v", err)
	}
	if loaded.Region != "eu" || len(loaded.ShardList) != 2 || loaded.ShardList[0].DSN != standIn("WALLET_SHARDS__EU0__DSN") {
		t.Errorf("loaded region %q shards %+v", loaded.Region, loaded.ShardList)
	}

	np := onlyPolicyFor(t, r, job.Template)
	if np.Name != "wallet-audit" || len(np.Spec.Ingress) != 0 ||
		!equalJSON(egressPorts(np), [][]string{dnsPorts, {"TCP/5432"}}) {
		t.Errorf("audit NetworkPolicy %s: ingress %+v, egress %v; want none, DNS and PostgreSQL", np.Name, np.Spec.Ingress, egressPorts(np))
	}
}
