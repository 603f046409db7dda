package transfers

import "fmt"

// Transfer statuses, as the sender's side sees them.
const (
	StatusPending   = "pending"
	StatusCompleted = "completed"
	StatusCancelled = "cancelled"
)

// Reasons a transfer was cancelled.
const (
	ReasonReceiverNotFound = "receiver_not_found"
	// ReasonReceiverClosed: the receiver's account is closed; the money never moved.
	ReasonReceiverClosed = "receiver_closed"
	// ReasonUnknownCurrency: the receiver's region does not know the transfer's
	// currency (an asset configured in the sender's region only).
	ReasonUnknownCurrency = "unknown_currency"
	ReasonExpired         = "expired"
)

// Message types on a region's TCC topic.
const (
	MsgCredit    = "credit"    // coordinator -> participant: credit the receiver
	MsgCancel    = "cancel"    // coordinator -> participant: the TTL passed, cancel
	MsgCredited  = "credited"  // participant -> coordinator: the receiver was credited
	MsgRefused   = "refused"   // participant -> coordinator: the credit will never happen
	MsgCancelled = "cancelled" // participant -> coordinator: cancel barrier written first
)

// Action is what the coordinator does to the sender's hold.
type Action int

// Coordinator actions.
const (
	ActNone Action = iota
	ActCapture
	ActRelease
	ActRequestCancel
)

func (a Action) String() string {
	return [...]string{"none", "capture", "release", "request_cancel"}[a]
}

// CoordinatorDecision is the coordinator's answer to an event.
type CoordinatorDecision struct {
	Status string // the transfer's status afterwards
	Action Action
	// Violation is set when the event contradicts the protocol (money would be lost
	// or created); the transfer is left alone and the message dead-lettered.
	Violation string
}

// Coordinator events: the three replies, and the TTL passing.
const EventExpired = "expired"

// Coordinate decides what the sender's side does on event (a reply type or
// EventExpired), given the transfer's status and whether a cancel was already sent.
//
// The rule that keeps money from being created: a hold is released only on a
// participant's word that no credit happened (refused, or cancelled behind a cancel
// barrier), never because time passed. The rule that keeps it from being lost: a
// credit is always followed by a capture, even after a cancel was requested.
func Coordinate(status string, cancelRequested bool, event string) CoordinatorDecision {
	switch status {
	case StatusPending:
		switch event {
		case MsgCredited:
			return CoordinatorDecision{Status: StatusCompleted, Action: ActCapture}
		case MsgRefused:
			return CoordinatorDecision{Status: StatusCancelled, Action: ActRelease}
		case MsgCancelled:
			if !cancelRequested {
				return CoordinatorDecision{Status: status, Violation: "cancelled reply for a transfer that never asked to cancel"}
			}
			return CoordinatorDecision{Status: StatusCancelled, Action: ActRelease}
		case EventExpired:
			if cancelRequested {
				return CoordinatorDecision{Status: status, Action: ActNone}
			}
			return CoordinatorDecision{Status: status, Action: ActRequestCancel}
		}
	case StatusCompleted:
		switch event {
		case MsgCredited, EventExpired:
			return CoordinatorDecision{Status: status, Action: ActNone} // a duplicate
		case MsgRefused, MsgCancelled:
			return CoordinatorDecision{Status: status, Violation: fmt.Sprintf("%s reply for a completed transfer", event)}
		}
	case StatusCancelled:
		switch event {
		case MsgRefused, MsgCancelled, EventExpired:
			return CoordinatorDecision{Status: status, Action: ActNone}
		case MsgCredited:
			return CoordinatorDecision{Status: status, Violation: "credited reply for a cancelled transfer: the receiver holds money the sender kept"}
		}
	}
	return CoordinatorDecision{Status: status, Violation: fmt.Sprintf("unknown status %q or event %q", status, event)}
}

// Barrier is what a participant knows of a transfer: its credit and cancel barriers.
type Barrier struct {
	CreditOutcome string // "" (none), "credited" or "refused"
	CreditReason  string
	Cancelled     bool // a cancel barrier exists
}

// ParticipantDecision is the participant's answer to a message.
type ParticipantDecision struct {
	// Credit: append the credit entry and write the credit barrier as credited.
	Credit bool
	// WriteCredit / WriteCancel: the barrier row to insert, with Outcome and Reason.
	WriteCredit, WriteCancel bool
	Outcome, Reason          string
	// Reply is the message to send back to the coordinator.
	Reply string
}

// Participate decides what the receiver's side does on a credit or cancel message.
// receiverExists is only consulted for a credit with no barrier yet.
func Participate(b Barrier, msg string, receiverExists bool) ParticipantDecision {
	switch msg {
	case MsgCredit:
		switch {
		case b.CreditOutcome != "":
			// A duplicate: answer again what was answered the first time.
			return ParticipantDecision{Reply: b.CreditOutcome, Reason: b.CreditReason}
		case b.Cancelled:
			// Anti-hanging: the cancel arrived first, so this credit must never happen.
			return ParticipantDecision{WriteCredit: true, Outcome: MsgRefused, Reason: "cancelled_before_credit", Reply: MsgRefused}
		case !receiverExists:
			return ParticipantDecision{WriteCredit: true, Outcome: MsgRefused, Reason: ReasonReceiverNotFound, Reply: MsgRefused}
		default:
			return ParticipantDecision{Credit: true, WriteCredit: true, Outcome: MsgCredited, Reply: MsgCredited}
		}
	case MsgCancel:
		switch {
		case b.CreditOutcome != "":
			// Too late to cancel: the credit's own outcome stands.
			return ParticipantDecision{Reply: b.CreditOutcome, Reason: b.CreditReason}
		case b.Cancelled:
			return ParticipantDecision{Reply: MsgCancelled, Reason: ReasonExpired}
		default:
			return ParticipantDecision{WriteCancel: true, Outcome: MsgCancelled, Reason: ReasonExpired, Reply: MsgCancelled}
		}
	}
	return ParticipantDecision{}
}
