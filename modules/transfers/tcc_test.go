package transfers

import "testing"

func TestCoordinate(t *testing.T) {
	cases := []struct {
		status    string
		requested bool
		event     string
		want      string
		action    Action
		violation bool
	}{
		{StatusPending, false, MsgCredited, StatusCompleted, ActCapture, false},
		{StatusPending, true, MsgCredited, StatusCompleted, ActCapture, false}, // credit won the race with expiry
		{StatusPending, false, MsgRefused, StatusCancelled, ActRelease, false},
		{StatusPending, true, MsgCancelled, StatusCancelled, ActRelease, false},
		{StatusPending, false, MsgCancelled, StatusPending, ActNone, true},
		{StatusPending, false, EventExpired, StatusPending, ActRequestCancel, false},
		{StatusPending, true, EventExpired, StatusPending, ActNone, false},
		{StatusCompleted, true, MsgCredited, StatusCompleted, ActNone, false},
		{StatusCompleted, false, EventExpired, StatusCompleted, ActNone, false},
		{StatusCompleted, true, MsgCancelled, StatusCompleted, ActNone, true},
		{StatusCompleted, false, MsgRefused, StatusCompleted, ActNone, true},
		{StatusCancelled, true, MsgCancelled, StatusCancelled, ActNone, false},
		{StatusCancelled, false, MsgRefused, StatusCancelled, ActNone, false},
		{StatusCancelled, true, MsgCredited, StatusCancelled, ActNone, true},
		{"bogus", false, MsgCredited, "bogus", ActNone, true},
		{StatusPending, false, "bogus", StatusPending, ActNone, true},
	}
	for _, c := range cases {
		d := Coordinate(c.status, c.requested, c.event)
		if d.Status != c.want || d.Action != c.action || (d.Violation != "") != c.violation {
			t.Errorf("Coordinate(%s, %v, %s) = %+v, want %s %s violation=%v", c.status, c.requested, c.event, d, c.want, c.action, c.violation)
		}
	}
}

func TestParticipate(t *testing.T) {
	cases := []struct {
		name    string
		b       Barrier
		msg     string
		exists  bool
		credit  bool
		write   string // "credit", "cancel" or ""
		reply   string
		outcome string
	}{
		{"first credit", Barrier{}, MsgCredit, true, true, "credit", MsgCredited, MsgCredited},
		{"unknown receiver", Barrier{}, MsgCredit, false, false, "credit", MsgRefused, MsgRefused},
		{"credit after cancel", Barrier{Cancelled: true}, MsgCredit, true, false, "credit", MsgRefused, MsgRefused},
		{"duplicate credit", Barrier{CreditOutcome: MsgCredited}, MsgCredit, true, false, "", MsgCredited, ""},
		{"duplicate refusal", Barrier{CreditOutcome: MsgRefused, CreditReason: ReasonReceiverNotFound}, MsgCredit, true, false, "", MsgRefused, ""},
		{"cancel first", Barrier{}, MsgCancel, true, false, "cancel", MsgCancelled, MsgCancelled},
		{"cancel after credit", Barrier{CreditOutcome: MsgCredited}, MsgCancel, true, false, "", MsgCredited, ""},
		{"cancel after refusal", Barrier{CreditOutcome: MsgRefused}, MsgCancel, true, false, "", MsgRefused, ""},
		{"duplicate cancel", Barrier{Cancelled: true}, MsgCancel, true, false, "", MsgCancelled, ""},
	}
	for _, c := range cases {
		d := Participate(c.b, c.msg, c.exists)
		write := ""
		if d.WriteCredit {
			write = "credit"
		}
		if d.WriteCancel {
			write = "cancel"
		}
		if d.Credit != c.credit || write != c.write || d.Reply != c.reply || (write != "" && d.Outcome != c.outcome) {
			t.Errorf("%s: %+v", c.name, d)
		}
	}
}

// TestNoPathCreatesOrLosesMoney explores every order in which a participant can see a
// credit and a cancel (each possibly duplicated) and checks that the coordinator, fed
// the replies in order, ends with exactly one of: receiver credited and hold captured,
// or nothing credited and hold released.
func TestNoPathCreatesOrLosesMoney(t *testing.T) {
	orders := [][]string{
		{MsgCredit}, {MsgCredit, MsgCancel}, {MsgCancel, MsgCredit}, {MsgCredit, MsgCredit, MsgCancel},
		{MsgCancel, MsgCancel, MsgCredit}, {MsgCancel, MsgCredit, MsgCredit, MsgCancel},
	}
	for _, exists := range []bool{true, false} {
		for _, order := range orders {
			var b Barrier
			credited := 0
			status, requested := StatusPending, false
			captured, released := 0, 0
			for _, msg := range order {
				if msg == MsgCancel {
					// A cancel is only ever sent after the coordinator requested it.
					if d := Coordinate(status, requested, EventExpired); d.Action == ActRequestCancel {
						requested = true
					}
					if !requested {
						continue
					}
				}
				d := Participate(b, msg, exists)
				if d.Credit {
					credited++
				}
				if d.WriteCredit {
					b.CreditOutcome, b.CreditReason = d.Outcome, d.Reason
				}
				if d.WriteCancel {
					b.Cancelled = true
				}
				cd := Coordinate(status, requested, d.Reply)
				if cd.Violation != "" {
					t.Fatalf("exists=%v order %v: violation %s", exists, order, cd.Violation)
				}
				switch cd.Action {
				case ActCapture:
					captured++
				case ActRelease:
					released++
				}
				status = cd.Status
			}
			if credited > 1 || captured != credited || captured+released != 1 {
				t.Fatalf("exists=%v order %v: credited %d, captured %d, released %d", exists, order, credited, captured, released)
			}
		}
	}
}
