package dispatch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/dispatch"
	"github.com/switchboardgw/switchboard/internal/integration"
	"github.com/switchboardgw/switchboard/internal/metrics"
	"github.com/switchboardgw/switchboard/internal/route"
	"github.com/switchboardgw/switchboard/internal/session"
	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

// attempt is one call a disconnectBackend received.
type attempt struct {
	at   time.Time
	json []byte // the event as sent
}

// disconnectBackend is a $disconnect integration whose answer to each
// connection's nth attempt (from 1) is answer's; it records every call.
type disconnectBackend struct {
	answer func(ctx context.Context, ev *awsapi.Event, n int) (*integration.Response, error)

	mu        sync.Mutex
	attempts  map[string][]attempt // by connection id
	delivered map[string]int       // successful attempts by connection id
}

var _ integration.Integration = (*disconnectBackend)(nil)

func newDisconnectBackend(answer func(ctx context.Context, ev *awsapi.Event, n int) (*integration.Response, error)) *disconnectBackend {
	return &disconnectBackend{answer: answer, attempts: map[string][]attempt{}, delivered: map[string]int{}}
}

func (b *disconnectBackend) Invoke(ctx context.Context, ev *awsapi.Event) (*integration.Response, error) {
	b.mu.Lock()
	b.attempts[ev.ConnectionID] = append(b.attempts[ev.ConnectionID], attempt{at: time.Now(), json: ev.AppendJSON(nil)})
	n := len(b.attempts[ev.ConnectionID])
	b.mu.Unlock()
	resp, err := b.answer(ctx, ev, n)
	if err == nil && (resp == nil || resp.StatusCode/100 == 2) {
		b.mu.Lock()
		b.delivered[ev.ConnectionID]++
		b.mu.Unlock()
	}
	return resp, err
}

func (b *disconnectBackend) calls(id string) []attempt {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.attempts[id])
}

func (b *disconnectBackend) deliveredTo(id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.delivered[id]
}

var ok200 = &integration.Response{StatusCode: 200}

// logRecorder is a slog handler that keeps the records at or above min.
type logRecorder struct {
	min  slog.Level
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// attrs returns the given attribute of every record whose message is msg.
func (h *logRecorder) attrs(msg, key string) []slog.Value {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []slog.Value
	for _, r := range h.recs {
		if r.Message != msg {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				out = append(out, a.Value)
			}
			return true
		})
	}
	return out
}

// disconnectRig is a dispatcher with only a $disconnect route, and what
// watches it.
type disconnectRig struct {
	d       *dispatch.Dispatcher
	backend *disconnectBackend
	metrics *metrics.Metrics
	log     *logRecorder
	stop    context.CancelFunc
}

func newDisconnectRig(t *testing.T, backend *disconnectBackend, timeout time.Duration, retry *dispatch.DisconnectRetry) *disconnectRig {
	t.Helper()
	m, err := metrics.New(metrics.Options{APIID: "abcdef1234", Stage: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	logs := &logRecorder{min: slog.LevelInfo}
	routes := map[string]*dispatch.Route{route.Disconnect: {Key: route.Disconnect, Integration: backend, Timeout: timeout}}
	d := build(ctx, routes, dispatch.Checks{Metrics: m}, slog.New(logs))
	if retry != nil {
		d.SetDisconnectRetry(*retry)
	}
	rig := &disconnectRig{d: d, backend: backend, metrics: m, log: logs, stop: stop}
	t.Cleanup(func() {
		stop()
		rig.wait(t)
	})
	return rig
}

// close reports n connections closed, in order, and returns their ids.
func (r *disconnectRig) close(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("conn%011d=", i)
		r.d.HandleClose(&session.Info{ID: ids[i], SourceIP: "192.0.2.1", ConnectedAt: time.Now().UnixMilli()}, 1001, "Going away")
	}
	return ids
}

// wait fails the test unless Wait returns within 10 s.
func (r *disconnectRig) wait(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		r.d.Wait()
		close(done)
	}()
	sbt.CheckFor(t, 10*time.Second, func() error {
		select {
		case <-done:
			return nil
		default:
			return errors.New("Wait has not returned")
		}
	})
}

// outcomes reads switchboard_disconnect_delivery_total by outcome.
func (r *disconnectRig) outcomes(t testing.TB) map[string]int {
	t.Helper()
	families, err := r.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, f := range families {
		if f.GetName() != metrics.DisconnectDeliveryName {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" {
					out[l.GetValue()] = int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return out
}

// waitOutcomes waits until the counters are want (outcomes not named
// must be 0).
func (r *disconnectRig) waitOutcomes(t *testing.T, timeout time.Duration, want map[string]int) {
	t.Helper()
	sbt.CheckFor(t, timeout, func() error {
		got := r.outcomes(t)
		for _, o := range []string{"delivered", "failed", "retried", "dropped"} {
			if got[o] != want[o] {
				return fmt.Errorf("$disconnect outcomes %v, want %v", got, want)
			}
		}
		return nil
	})
}

// A backend failing each connection's first three attempts, each in a
// different way, gets the fourth: one delivery per connection, the same
// event (requestId included) every time, with backoff between attempts.
func TestDisconnectRetriedUntilDelivered(t *testing.T) {
	const n, fails = 50, 3
	backend := newDisconnectBackend(func(ctx context.Context, ev *awsapi.Event, attempt int) (*integration.Response, error) {
		switch attempt {
		case 1:
			return nil, errors.New("dial tcp 192.0.2.1:443: connect: connection refused")
		case 2:
			return nil, &integration.FunctionError{Kind: "HTTP 503", Detail: "down"}
		case 3:
			if ev.ConnectionID < "conn00000000005=" { // a few time out instead
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return &integration.Response{StatusCode: 500}, nil // the function said it failed
		}
		return ok200, nil
	})
	const initial, most = 10 * time.Millisecond, 20 * time.Millisecond
	rig := newDisconnectRig(t, backend, 100*time.Millisecond, &dispatch.DisconnectRetry{Window: time.Minute, InitialBackoff: initial, MaxBackoff: most})
	ids := rig.close(n)
	rig.waitOutcomes(t, 10*time.Second, map[string]int{"delivered": n, "failed": n * fails, "retried": n * fails})
	rig.wait(t)
	for _, id := range ids {
		calls := backend.calls(id)
		if len(calls) != fails+1 || backend.deliveredTo(id) != 1 {
			t.Errorf("%s: %d attempts, %d delivered; want %d and 1", id, len(calls), backend.deliveredTo(id), fails+1)
			continue
		}
		for i, c := range calls[1:] {
			if !bytes.Equal(c.json, calls[0].json) {
				t.Errorf("%s: attempt %d sent\n%s\nattempt 1 sent\n%s", id, i+2, c.json, calls[0].json)
			}
			// The wait before retry i+1 is at least half its backoff.
			backoff := min(initial<<i, most)
			if gap := c.at.Sub(calls[i].at); gap < backoff/2 {
				t.Errorf("%s: retry %d came %v after the attempt before; backoff %v jittered by at most half", id, i+1, gap, backoff)
			}
		}
	}
	if got := rig.log.attrs("$disconnect delivered after retries", "connectionId"); len(got) != n {
		t.Errorf("%d 'delivered after retries' lines, want %d", len(got), n)
	}
}

// What counts as delivered: any 2xx answer, and answers that are no proxy
// response (the backend took the event; its answer is not used). Anything
// else is tried again until the retry window has passed, then dropped.
func TestDisconnectOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		resp      *integration.Response
		err       error
		delivered bool
	}{
		{"200", ok200, nil, true},
		{"204", &integration.Response{StatusCode: 204}, nil, true},
		{"no usable answer", nil, &integration.FunctionError{Kind: "malformed response", Detail: "want a JSON object"}, true},
		{"too large", nil, &integration.FunctionError{Kind: "response too large"}, true},
		{"statusCode 500", &integration.Response{StatusCode: 500}, nil, false},
		{"statusCode 404", &integration.Response{StatusCode: 404}, nil, false},
		{"function error", nil, &integration.FunctionError{Kind: "Unhandled", Detail: "boom"}, false},
		{"HTTP 502", nil, &integration.FunctionError{Kind: "HTTP 502"}, false},
		{"unreachable", nil, errors.New("connection refused"), false},
		{"timeout", nil, context.DeadlineExceeded, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			backend := newDisconnectBackend(func(context.Context, *awsapi.Event, int) (*integration.Response, error) {
				return tc.resp, tc.err
			})
			const window = 100 * time.Millisecond
			rig := newDisconnectRig(t, backend, time.Second, &dispatch.DisconnectRetry{Window: window, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
			start := time.Now()
			id := rig.close(1)[0]
			rig.wait(t)
			got, calls := rig.outcomes(t), backend.calls(id)
			if tc.delivered {
				if got["delivered"] != 1 || got["dropped"] != 0 || len(calls) != 1 {
					t.Errorf("outcomes %v after %d attempts, want delivered at the first", got, len(calls))
				}
				return
			}
			// The last retry scheduled may find the window passed when it
			// comes due (its timer fired late): retried, but not attempted.
			if got["delivered"] != 0 || got["dropped"] != 1 || got["failed"] != len(calls) || got["retried"] < len(calls)-1 ||
				got["retried"] > len(calls) || len(calls) < 3 {
				t.Errorf("outcomes %v after %d attempts, want retries, then dropped", got, len(calls))
			}
			if last := calls[len(calls)-1].at; last.Sub(start) > window+25*time.Millisecond { // an attempt due by the deadline may start a little later
				t.Errorf("last attempt %v after the close; retryWindow is %v", last.Sub(start), window)
			}
			if dropped := rig.log.attrs("$disconnect dropped: its retry window has passed", "connectionId"); len(dropped) != 1 || dropped[0].String() != id {
				t.Errorf("drop logged for %v, want [%s]", dropped, id)
			}
		})
	}
}

// Without SetDisconnectRetry (retryWindow 0), a failed $disconnect is
// tried once and dropped, as on API Gateway.
func TestDisconnectRetriesOff(t *testing.T) {
	backend := newDisconnectBackend(func(context.Context, *awsapi.Event, int) (*integration.Response, error) {
		return nil, errors.New("connection refused")
	})
	rig := newDisconnectRig(t, backend, time.Second, nil)
	id := rig.close(1)[0]
	rig.wait(t)
	if got, calls := rig.outcomes(t), backend.calls(id); len(calls) != 1 || got["failed"] != 1 || got["dropped"] != 1 || got["retried"] != 0 {
		t.Errorf("outcomes %v after %d attempts, want one failed attempt, dropped", got, len(calls))
	}
}

// A full queue drops its oldest delivery, counted and logged with its
// connection id: with a queue of 10 and 50 deliveries waiting, the 40
// earliest closes go. Stopping then drops the rest, logged as a count.
func TestDisconnectQueueFullDropsOldest(t *testing.T) {
	const n, size = 50, 10
	backend := newDisconnectBackend(func(context.Context, *awsapi.Event, int) (*integration.Response, error) {
		return nil, errors.New("connection refused")
	})
	rig := newDisconnectRig(t, backend, time.Second, &dispatch.DisconnectRetry{QueueSize: size, Window: 2 * time.Hour, InitialBackoff: time.Hour, MaxBackoff: time.Hour})
	ids := rig.close(n)
	rig.waitOutcomes(t, 10*time.Second, map[string]int{"failed": n, "retried": n, "dropped": n - size})
	var dropped []string
	for _, v := range rig.log.attrs("$disconnect dropped: the queue is full", "connectionId") {
		dropped = append(dropped, v.String())
	}
	slices.Sort(dropped)
	if !slices.Equal(dropped, ids[:n-size]) {
		t.Errorf("dropped %v, want the oldest: %v", dropped, ids[:n-size])
	}

	rig.stop()
	rig.wait(t)
	rig.waitOutcomes(t, time.Second, map[string]int{"failed": n, "retried": n, "dropped": n})
	if counts := rig.log.attrs("$disconnect deliveries dropped: the gateway has stopped waiting for them", "count"); len(counts) != 1 || counts[0].Int64() != size {
		t.Errorf("give-up lines with counts %v, want one with %d", counts, size)
	}
	for _, id := range ids {
		if len(backend.calls(id)) != 1 {
			t.Errorf("%s: %d attempts, want 1", id, len(backend.calls(id)))
		}
	}
}

// A backend that hangs during a disconnect storm holds a bounded number of
// goroutines (first attempts, then the queue's workers), however many
// connections close; once it is back, each connection's $disconnect is
// delivered exactly once.
func TestDisconnectStormBoundedGoroutines(t *testing.T) {
	const n = 3000
	// The dispatcher's bounds: first attempts on their own goroutine, and
	// the queue's workers.
	const maxFirstAttempts, retryWorkers = 1024, 64
	var down atomic.Bool
	down.Store(true)
	release := make(chan struct{})
	var hanging atomic.Int64
	backend := newDisconnectBackend(func(ctx context.Context, ev *awsapi.Event, _ int) (*integration.Response, error) {
		if !down.Load() {
			return ok200, nil
		}
		hanging.Add(1)
		defer hanging.Add(-1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, errors.New("connection reset by peer")
	})
	rig := newDisconnectRig(t, backend, time.Minute, &dispatch.DisconnectRetry{Window: time.Minute, InitialBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	before := runtime.NumGoroutine()
	ids := rig.close(n)
	sbt.CheckFor(t, 10*time.Second, func() error {
		if h := hanging.Load(); h != maxFirstAttempts+retryWorkers {
			return fmt.Errorf("%d attempts hanging, want %d", h, maxFirstAttempts+retryWorkers)
		}
		return nil
	})
	// Every other delivery waits in the queue without a goroutine.
	if g := runtime.NumGoroutine() - before; g > maxFirstAttempts+retryWorkers+1 {
		t.Errorf("%d goroutines more than before %d closes, want at most %d", g, n, maxFirstAttempts+retryWorkers+1)
	}

	down.Store(false)
	close(release)
	rig.waitOutcomes(t, 20*time.Second, map[string]int{"delivered": n, "failed": maxFirstAttempts + retryWorkers, "retried": maxFirstAttempts + retryWorkers})
	rig.wait(t)
	for _, id := range ids {
		if got := backend.deliveredTo(id); got != 1 {
			t.Errorf("%s delivered %d times", id, got)
		}
	}
	sbt.CheckFor(t, 5*time.Second, func() error {
		if g := runtime.NumGoroutine(); g > before {
			return fmt.Errorf("%d goroutines, %d before", g, before)
		}
		return nil
	})
}

// Cancelling the dispatcher's context (the gateway's shutdown deadline)
// ends attempts in flight, drops what is queued, and leaves no goroutine;
// a close after that is dropped at once.
func TestDisconnectStopGivesUp(t *testing.T) {
	const n = 100
	var calls atomic.Int64
	backend := newDisconnectBackend(func(ctx context.Context, ev *awsapi.Event, _ int) (*integration.Response, error) {
		if calls.Add(1) > n { // after the first attempts, hang until stopped
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return nil, &integration.FunctionError{Kind: "HTTP 503"}
	})
	before := runtime.NumGoroutine()
	rig := newDisconnectRig(t, backend, time.Minute, &dispatch.DisconnectRetry{Window: time.Minute, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	rig.close(n)
	sbt.CheckFor(t, 10*time.Second, func() error {
		if c := calls.Load(); c < n+10 {
			return fmt.Errorf("%d attempts, want retries hanging", c)
		}
		return nil
	})
	rig.stop()
	rig.wait(t)
	if got := rig.outcomes(t); got["dropped"] != n || got["delivered"] != 0 {
		t.Errorf("outcomes %v after stopping, want all %d dropped", got, n)
	}
	sbt.CheckFor(t, 5*time.Second, func() error {
		if g := runtime.NumGoroutine(); g > before {
			return fmt.Errorf("%d goroutines, %d before", g, before)
		}
		return nil
	})

	rig.d.HandleClose(&session.Info{ID: "late", ConnectedAt: time.Now().UnixMilli()}, 1006, "")
	rig.wait(t)
	if got := rig.outcomes(t); got["dropped"] != n+1 {
		t.Errorf("a close after stopping: outcomes %v, want it dropped", got)
	}
	if len(backend.calls("late")) != 0 {
		t.Error("a close after stopping reached the backend")
	}
}
