package loadgen

import (
	"context"
	"testing"
	"time"
)

func TestPacerSchedulesByTimeNotBySends(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewPacer(start, 5000) // every 200 µs
	clock := start
	p.now = func() time.Time { return clock }
	p.sleep = func(_ context.Context, d time.Duration) bool { clock = clock.Add(d); return true }

	for i := range int64(10) {
		t0, ok := p.Wait(context.Background())
		if !ok || !t0.Equal(start.Add(time.Duration(i)*200*time.Microsecond)) {
			t.Fatalf("send %d scheduled at %v (ok %v), want +%v", i, t0.Sub(start), ok, time.Duration(i)*200*time.Microsecond)
		}
		if clock.Before(t0) {
			t.Fatalf("send %d released at %v, before its time %v", i, clock.Sub(start), t0.Sub(start))
		}
	}
	// The sender stalls for 1 ms: the next five sends are already due and
	// keep their scheduled times (open loop), released without sleeping.
	clock = clock.Add(time.Millisecond)
	if due := p.Due(clock); due != 5 {
		t.Fatalf("due after a 1 ms stall = %d, want 5", due)
	}
	before := clock
	for i := int64(10); i < 15; i++ {
		t0, _ := p.Wait(context.Background())
		if !t0.Equal(p.At(i)) {
			t.Fatalf("late send %d scheduled at %v, want %v", i, t0.Sub(start), p.At(i).Sub(start))
		}
	}
	if !clock.Equal(before) {
		t.Errorf("catching up slept %v; it should send at once", clock.Sub(before))
	}
	if due := p.Due(clock); due != 0 {
		t.Errorf("due after catching up = %d, want 0", due)
	}
}

func TestPacerRateOverAWindow(t *testing.T) {
	start := time.Unix(1000, 0)
	p := NewPacer(start, 3000)
	n := 0
	for p.Next().Before(start.Add(2 * time.Second)) {
		n++
	}
	if n != 6000 {
		t.Errorf("%d sends scheduled in 2 s at 3000/s, want 6000", n)
	}
	if d := NewPacer(start, 10).Due(start.Add(-time.Second)); d != 0 {
		t.Errorf("due before the start = %d", d)
	}
}

func TestPacerWaitStopsWithContext(t *testing.T) {
	p := NewPacer(time.Now().Add(time.Hour), 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok := p.Wait(ctx); ok {
		t.Error("Wait should give up when the context ends")
	}
}

func TestMessageStamp(t *testing.T) {
	for _, size := range []int{0, 40, 64, 1000} {
		msg := AppendMessage(nil, "echo", 1732412345123456789, size)
		if size > 40 && len(msg) != size {
			t.Errorf("size %d: message is %d bytes: %s", size, len(msg), msg)
		}
		if ts, ok := ParseStamp(msg); !ok || ts != 1732412345123456789 {
			t.Errorf("size %d: stamp %d %v from %s", size, ts, ok, msg)
		}
	}
	if msg := AppendMessage(nil, "", 7, 0); string(msg) != `{"t":7,"p":""}` {
		t.Errorf("no action: %s", msg)
	}
	if _, ok := ParseStamp([]byte(`{"action":"whoami"}`)); ok {
		t.Error("a message without a stamp parsed")
	}
}

func TestWindow(t *testing.T) {
	start := time.Unix(0, 0)
	w := NewWindow(start, time.Second, 2*time.Second)
	for _, tc := range []struct {
		at time.Duration
		in bool
	}{{0, false}, {999 * time.Millisecond, false}, {time.Second, true}, {2999 * time.Millisecond, true}, {3 * time.Second, false}} {
		if got := w.In(start.Add(tc.at)); got != tc.in {
			t.Errorf("In(+%v) = %v, want %v", tc.at, got, tc.in)
		}
	}
	if w.Seconds() != 2 {
		t.Errorf("Seconds = %v", w.Seconds())
	}
}
