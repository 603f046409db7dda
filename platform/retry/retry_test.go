package retry

import (
	"testing"
	"time"
)

func TestBackoffGrowsWithinBounds(t *testing.T) {
	b := Backoff{Min: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	steps := []time.Duration{10, 20, 40, 80, 80, 80}
	for i, step := range steps {
		step *= time.Millisecond
		d := b.Next()
		if d < step/2 || d > step {
			t.Fatalf("wait %d = %s, want between %s and %s", i, d, step/2, step)
		}
	}
	b.Reset()
	if d := b.Next(); d > 10*time.Millisecond {
		t.Fatalf("after Reset: %s", d)
	}
}
