package events

import (
	"encoding/json"
	"testing"
	"time"
)

func TestOneRowHoldsATransactionsEventsInOrder(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.FixedZone("CET", 3600))
	msgs, err := Outbox("eu", []Event{
		{ID: "eu_U:3", Type: TypeDepositCreated, Subject: "eu_U", UserID: "eu_U", Time: at,
			Data: EntryData{UserID: "eu_U", Seq: 3, Currency: "EUR", Amount: "250", BalanceAfter: "1250", CreatedAt: Timestamp(at)}},
		{ID: "eu_V:1", Type: TypeAccountFrozen, Subject: "eu_V", UserID: "eu_V", Time: at,
			Data: AccountData{UserID: "eu_V", Status: "frozen", Seq: 1, CreatedAt: Timestamp(at)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Region != Destination || !IsEvent(msgs[0].Type) {
		t.Fatalf("messages = %+v, want one row for the event stream", msgs)
	}
	published, err := Unpack(msgs[0].Payload)
	if err != nil || len(published) != 2 || published[0].Key != "eu_U" || published[1].Key != "eu_V" {
		t.Fatalf("unpacked = %+v, %v", published, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(published[0].Value, &doc); err != nil {
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
		t.Errorf("document = %s", published[0].Value)
	}
	if none, err := Outbox("eu", nil); err != nil || len(none) != 0 {
		t.Fatalf("no events = %+v, %v; want no row", none, err)
	}
}

func TestOnlyRowsOfEventsAreEvents(t *testing.T) {
	for typ, want := range map[string]bool{outboxType: true, TypeTransferCompleted: false, "credit": false, "credited": false, "cancel": false, "": false} {
		if IsEvent(typ) != want {
			t.Errorf("IsEvent(%q) = %v", typ, !want)
		}
	}
}

func TestUnencodableDataIsAnError(t *testing.T) {
	if _, err := Outbox("eu", []Event{{ID: "x", Type: TypeUserCreated, Data: func() {}}}); err == nil {
		t.Fatal("an event whose data cannot be encoded was packed")
	}
	if _, err := Unpack([]byte("not json")); err == nil {
		t.Fatal("a corrupt row unpacked")
	}
}
