package pgdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
)

// Every way a connection to PostgreSQL can be lost, or a statement turned away for
// the moment, is "unavailable" (503, retry with the same key); what PostgreSQL refuses
// for what the statement is, or a bug, is not.
func TestIsUnavailable(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("batch: %w", &pgconn.PgError{Code: code}) }
	unavailable := map[string]error{
		"unexpected EOF":         fmt.Errorf("read: %w", io.ErrUnexpectedEOF),
		"EOF":                    io.EOF,
		"reset":                  &net.OpError{Op: "read", Err: syscall.ECONNRESET},
		"refused":                fmt.Errorf("dial: %w", syscall.ECONNREFUSED),
		"broken pipe":            syscall.EPIPE,
		"closed connection":      net.ErrClosed,
		"closed pool":            puddle.ErrClosedPool,
		"conn closed":            errors.New("conn closed"),
		"deadline":               context.DeadlineExceeded,
		"admin shutdown":         pg("57P01"),
		"crash shutdown":         pg("57P02"),
		"starting up":            pg("57P03"),
		"connection failure":     pg("08006"),
		"too many connections":   pg("53300"),
		"disk full":              pg("53100"),
		"statement timeout":      pg("57014"),
		"lock timeout":           pg("55P03"),
		"read-only (failover)":   pg("25006"),
		"commit outcome unknown": &UnavailableError{Err: errors.New("x"), OutcomeUnknown: true},
	}
	for name, err := range unavailable {
		if !IsUnavailable(err) {
			t.Errorf("%s (%v): not unavailable", name, err)
		}
	}
	refused := map[string]error{
		"unique violation":  pg("23505"),
		"check violation":   pg("23514"),
		"numeric overflow":  pg("22003"),
		"syntax error":      pg("42601"),
		"deadlock":          pg("40P01"),
		"a bug":             errors.New("ledger: unknown entry kind"),
		"nothing":           nil,
		"client went away ": context.Canceled,
	}
	for name, err := range refused {
		if IsUnavailable(err) {
			t.Errorf("%s (%v): unavailable", name, err)
		}
	}
}

// InterpretError is what services return a shard's errors through: no row becomes the
// caller's own error, every form of unavailability one *UnavailableError that the HTTP
// edge recognises by its Unavailable method, and the rest passes unchanged.
func TestInterpretError(t *testing.T) {
	errMissing := errors.New("no such thing")
	if err := InterpretError(fmt.Errorf("get: %w", pgx.ErrNoRows), errMissing); err != errMissing {
		t.Fatalf("no rows = %v, want the caller's error", err)
	}
	if err := InterpretError(pgx.ErrNoRows, nil); !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("no rows without a missing error = %v, want it kept an error", err)
	}
	if err := InterpretError(nil, errMissing); err != nil {
		t.Fatalf("nil = %v", err)
	}
	lost := fmt.Errorf("read: %w", io.ErrUnexpectedEOF)
	var ue *UnavailableError
	err := InterpretError(lost, errMissing)
	if !errors.As(err, &ue) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a lost connection = %#v, want an *UnavailableError wrapping it", err)
	}
	var edge interface{ Unavailable() bool }
	if !errors.As(err, &edge) || !edge.Unavailable() {
		t.Fatal("the HTTP edge cannot recognise it")
	}
	if again := InterpretError(err, nil); again != err {
		t.Fatalf("an *UnavailableError is wrapped again: %v", again)
	}
	refused := &pgconn.PgError{Code: "23514"}
	if err := InterpretError(refused, errMissing); err != refused {
		t.Fatalf("a refusal = %v, want it unchanged", err)
	}
}
