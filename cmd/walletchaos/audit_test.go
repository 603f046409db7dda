package main

import (
	"slices"
	"strings"
	"testing"
)

func TestAuditEnvCarriesEveryRegionsShardDSNsOnly(t *testing.T) {
	eu := []string{"PATH=/bin", "WALLET_SHARDS__EU0__DSN=postgres://app@x/eu0", "WALLET_SHARDS__EU0__OWNER_DSN=postgres://owner@x/eu0",
		"WALLET_AUTH__REGION_SECRET=eu-secret", "WALLET_PEERS__US__SECRET=pair"}
	us := []string{"WALLET_SHARDS__US1__DSN=postgres://app@x/us1", "WALLET_AUTH__REGION_SECRET=us-secret"}
	got := auditEnv([]string{"HOME=/root"}, eu, us)
	want := []string{"HOME=/root", "WALLET_SHARDS__EU0__DSN=postgres://app@x/eu0", "WALLET_SHARDS__US1__DSN=postgres://app@x/us1"}
	if !slices.Equal(got, want) {
		t.Fatalf("auditEnv = %q, want %q", got, want)
	}
}

func TestJudgeAudit(t *testing.T) {
	clean := `{"clean": true, "conservation": [{"currency": "EUR", "balances": "1000", "in_flight": "0", "unexplained": "0"},
		{"currency": "USD", "balances": "70", "in_flight": "5", "unexplained": "0"}], "transfers": {"total": 12, "rechecked": 1}, "discrepancies": []}`
	dirty := `{"clean": false, "conservation": [{"currency": "EUR", "unexplained": "-30"}], "discrepancies": [
		{"kind": "missing_credit", "region": "us", "shard": "us1", "user_id": "us_U", "transfer_id": "eu_tr_T", "detail": "completed, but the receiver has neither"},
		{"kind": "conservation", "detail": "leaves -30 unexplained"}]}`
	cases := []struct {
		name   string
		code   int
		stdout string
		pass   bool
		detail []string
	}{
		{"clean", 0, clean, true, []string{"balances 1000 EUR, 70 USD, in flight 0 EUR, 5 USD", "12 transfers reconciled (1 re-checked)"}},
		{"discrepancies", 1, dirty, false, []string{"exit 1, 2 discrepancies (unexplained -30 EUR)", "missing_credit region=us shard=us1 user=us_U transfer=eu_tr_T"}},
		{"exit 1 with a clean-looking report", 1, clean, false, []string{"exit 1"}},
		{"could not tell", 2, "", false, []string{"exit 2, no report", "shard us0 unreachable"}},
	}
	for _, c := range cases {
		got := judgeAudit(c.code, []byte(c.stdout), []byte("wallet audit: shard us0 unreachable\n"))
		if got.Name != "audit" || got.Passed != c.pass {
			t.Errorf("%s: %+v, want passed=%v", c.name, got, c.pass)
		}
		for _, d := range c.detail {
			if !strings.Contains(got.Detail, d) {
				t.Errorf("%s: detail %q lacks %q", c.name, got.Detail, d)
			}
		}
	}
}
