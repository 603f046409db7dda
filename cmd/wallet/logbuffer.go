package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logBuffer batches the server's log lines into one write every flushInterval (or
// every 64 KiB), instead of one write system call per line: at thousands of requests
// a second the access log's writes were a measurable share of the process's CPU. A
// crash loses at most the last interval of log lines; money never depends on them
// (the ledger is the record).
type logBuffer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

const flushInterval = 100 * time.Millisecond

func newLogBuffer(w io.Writer) *logBuffer {
	b := &logBuffer{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		tick := time.NewTicker(flushInterval)
		defer tick.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-tick.C:
				b.flush()
			}
		}
	}()
	return b
}

// Write buffers one log line; slog writes each line with one call.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *logBuffer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.w.Flush()
}

// Close stops the ticker and writes what is buffered.
func (b *logBuffer) Close() {
	close(b.stop)
	<-b.done
	b.flush()
}
