package events

import (
	"encoding/json"
	"testing"
	"time"
)

func TestMessageIsACloudEventKeyedByUser(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.FixedZone("CET", 3600))
	m, err := Message("eu", Event{ID: "eu_U:3", Type: TypeDepositCreated, Subject: "eu_U", UserID: "eu_U", Time: at,
		Data: EntryData{UserID: "eu_U", Seq: 3, Currency: "EUR", Amount: "250", BalanceAfter: "1250", CreatedAt: Timestamp(at)}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Region != "eu" || m.Key != "eu_U" || m.Type != TypeDepositCreated || !IsEvent(m.Type) {
		t.Fatalf("message = %+v", m)
	}
	var doc map[string]any
	if err := json.Unmarshal(m.Payload, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"specversion": "1.0", "id": "eu_U:3", "source": "/wallet/regions/eu", "type": "wallet.deposit.created",
		"time": "2026-11-27T09:00:00.123456Z", "subject": "eu_U", "datacontenttype": "application/json"}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("%s = %v, want %v", k, doc[k], v)
		}
	}
	data, _ := doc["data"].(map[string]any)
	if data["amount"] != "250" || data["currency"] != "EUR" || data["seq"] != 3.0 || len(doc) != len(want)+1 {
		t.Errorf("document = %s", m.Payload)
	}
}

func TestOnlyEventsAreEvents(t *testing.T) {
	for typ, want := range map[string]bool{TypeTransferCompleted: true, TypeUserCreated: true, "credit": false, "credited": false, "cancel": false, "": false} {
		if IsEvent(typ) != want {
			t.Errorf("IsEvent(%q) = %v", typ, !want)
		}
	}
}

func TestUnencodableDataIsAnError(t *testing.T) {
	if _, err := Messages("eu", []Event{{ID: "x", Type: TypeUserCreated, Data: func() {}}}); err == nil {
		t.Fatal("an event whose data cannot be encoded was wrapped")
	}
}
