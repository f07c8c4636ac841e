package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboardgw/switchboard/internal/config"
	"github.com/switchboardgw/switchboard/internal/metrics"
	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

// flakyBackend is an AWS_PROXY URL backend for $disconnect that answers 503
// while down, and to each connection's first failFirst attempts; it records
// the requestId of every attempt and of every delivery it accepted.
type flakyBackend struct {
	*httptest.Server
	down      atomic.Bool
	failFirst int

	mu        sync.Mutex
	attempts  map[string][]string // connection id → requestIds, one per attempt
	delivered map[string][]string // connection id → requestIds answered 200
}

func newFlakyBackend(t *testing.T, failFirst int) *flakyBackend {
	b := &flakyBackend{failFirst: failFirst, attempts: map[string][]string{}, delivered: map[string][]string{}}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			RequestContext struct{ EventType, ConnectionID, RequestID string }
		}
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil || ev.RequestContext.EventType != "DISCONNECT" {
			http.Error(w, "want a DISCONNECT event", http.StatusBadRequest)
			return
		}
		rc := ev.RequestContext
		b.mu.Lock()
		b.attempts[rc.ConnectionID] = append(b.attempts[rc.ConnectionID], rc.RequestID)
		fail := b.down.Load() || len(b.attempts[rc.ConnectionID]) <= b.failFirst
		if !fail {
			b.delivered[rc.ConnectionID] = append(b.delivered[rc.ConnectionID], rc.RequestID)
		}
		b.mu.Unlock()
		if fail {
			// As a load balancer with no healthy target: 503, and no
			// keep-alive connection left behind.
			w.Header().Set("Connection", "close")
			http.Error(w, `{"message":"Service Unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"statusCode":200}`)
	}))
	t.Cleanup(b.Close)
	return b
}

// requestIDs returns the requestIds of id's attempts and of its accepted
// deliveries.
func (b *flakyBackend) requestIDs(id string) (attempts, delivered []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.attempts[id]...), append([]string(nil), b.delivered[id]...)
}

// disconnectRetryYAML is a gateway with metrics, whoami on $default, b on
// $disconnect, and the given disconnectRetry settings.
func disconnectRetryYAML(b *flakyBackend, retry string) string {
	return sbt.ManagementYAML + `
metrics: {listen: "127.0.0.1:0"}
disconnectRetry: ` + retry + `
integrations:
  whoami: {type: MOCK, response: {body: $context.connectionId}}
  backend: {type: AWS_PROXY, uri: "` + b.URL + `", timeoutInMillis: 5000}
routes:
  $disconnect: {integration: backend}
  $default: {integration: whoami, routeResponseSelectionExpression: $default}
`
}

// disconnectOutcomes reads switchboard_disconnect_delivery_total by
// outcome from the gateway's /metrics.
func disconnectOutcomes(t testing.TB, ts *sbt.TestServer) map[string]int {
	t.Helper()
	rr := httptest.NewRecorder()
	ts.MetricsHandler().ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	out := map[string]int{}
	sc := bufio.NewScanner(rr.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metrics.DisconnectDeliveryName+"{") {
			continue
		}
		_, labels, _ := strings.Cut(line, `outcome="`)
		outcome, _, _ := strings.Cut(labels, `"`)
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[outcome] = int(v)
	}
	return out
}

// waitOutcomes waits until every outcome in want has its count (at least
// its count, for the outcomes in atLeast).
func waitOutcomes(t *testing.T, ts *sbt.TestServer, timeout time.Duration, want map[string]int, atLeast ...string) map[string]int {
	t.Helper()
	var got map[string]int
	sbt.CheckFor(t, timeout, func() error {
		got = disconnectOutcomes(t, ts)
		for o, n := range want {
			if got[o] != n && !(got[o] > n && slices.Contains(atLeast, o)) {
				return fmt.Errorf("$disconnect outcomes %v, want %v", got, want)
			}
		}
		return nil
	})
	return got
}

// dialIDs opens n connections and returns them with their ids.
func dialIDs(t *testing.T, ts *sbt.TestServer, n int) ([]*sbt.Client, []string) {
	clients, ids := make([]*sbt.Client, n), make([]string, n)
	for i := range clients {
		clients[i] = sbt.MustDial(t, ts.URL)
		ids[i] = connectionID(clients[i])
	}
	return clients, ids
}

// A backend failing the first three attempts of each connection's
// $disconnect gets the fourth: each connection is delivered exactly once,
// and every attempt carried the same requestId.
func TestDisconnectRetriedUntilBackendUp(t *testing.T) {
	const n, fails = 20, 3
	b := newFlakyBackend(t, fails)
	ts := sbt.RunServer(t, disconnectRetryYAML(b, "{initialBackoff: 5ms, maxBackoff: 20ms, retryWindow: 1m}"))
	clients, ids := dialIDs(t, ts, n)
	for _, c := range clients {
		if err := c.Close(1000, "bye"); err != nil {
			t.Fatal(err)
		}
	}
	waitOutcomes(t, ts, 10*time.Second, map[string]int{"delivered": n, "failed": n * fails, "retried": n * fails, "dropped": 0})
	for _, id := range ids {
		attempts, delivered := b.requestIDs(id)
		if len(attempts) != fails+1 || len(delivered) != 1 {
			t.Errorf("%s: %d attempts, %d deliveries; want %d and 1", id, len(attempts), len(delivered), fails+1)
			continue
		}
		for _, rid := range attempts {
			if rid != delivered[0] {
				t.Errorf("%s: attempts with requestIds %v, want one", id, attempts)
				break
			}
		}
	}
}

// A backend down for longer than retryWindow: each $disconnect is tried
// several times within the window, then dropped and counted.
func TestDisconnectDroppedAfterRetryWindow(t *testing.T) {
	const n = 5
	b := newFlakyBackend(t, 0)
	b.down.Store(true)
	ts := sbt.RunServer(t, disconnectRetryYAML(b, "{initialBackoff: 10ms, maxBackoff: 50ms, retryWindow: 300ms}"))
	clients, ids := dialIDs(t, ts, n)
	for _, c := range clients {
		c.Conn.Close()
	}
	got := waitOutcomes(t, ts, 10*time.Second, map[string]int{"dropped": n, "delivered": 0})
	for _, id := range ids {
		if attempts, _ := b.requestIDs(id); len(attempts) < 3 {
			t.Errorf("%s: %d attempts in a 300ms window with backoff from 10ms", id, len(attempts))
		}
	}
	if got["failed"] < 3*n {
		t.Errorf("outcomes %v", got)
	}
}

// 2,000 connections closing while the backend is down: their deliveries
// wait in the queue on a bounded number of goroutines; once the backend is
// back, every connection's $disconnect is delivered exactly once.
func TestDisconnectStormDuringOutage(t *testing.T) {
	const n = 2000
	b := newFlakyBackend(t, 0)
	b.down.Store(true)
	ts := sbt.RunServer(t, disconnectRetryYAML(b, "{initialBackoff: 10ms, maxBackoff: 100ms, retryWindow: 2m}"))
	before := runtime.NumGoroutine()
	clients := make([]*sbt.Client, n)
	for i := range clients {
		clients[i] = sbt.MustDial(t, ts.URL)
	}
	sbt.CheckFor(t, 10*time.Second, func() error {
		if got := ts.Connections(); got != n {
			return fmt.Errorf("%d of %d connected", got, n)
		}
		return nil
	})
	for _, c := range clients {
		c.Conn.Close()
	}
	sbt.CheckFor(t, 20*time.Second, func() error {
		if got := ts.Connections(); got != 0 {
			return fmt.Errorf("%d connections still open", got)
		}
		return nil
	})
	waitOutcomes(t, ts, 20*time.Second, map[string]int{"failed": n, "retried": n, "delivered": 0, "dropped": 0}, "failed", "retried")

	// The outage goes on: every delivery is retried (twice, on average),
	// on the queue's bounded workers.
	peak := 0
	sbt.CheckFor(t, 30*time.Second, func() error {
		peak = max(peak, runtime.NumGoroutine())
		if got := disconnectOutcomes(t, ts); got["retried"] < 3*n {
			return fmt.Errorf("outcomes %v: waiting for %d retries", got, 3*n)
		}
		return nil
	})
	// Each attempt in flight holds a few goroutines (the worker, the HTTP
	// client's connection, the backend's); one per waiting delivery would
	// be thousands.
	const bound = 500
	if extra := peak - before; extra > bound {
		t.Errorf("%d goroutines more than before the connections, during the outage with %d deliveries waiting; want at most %d", extra, n, bound)
	}
	t.Logf("outage: at most %d goroutines more than before %d connections", peak-before, n)

	b.down.Store(false)
	got := waitOutcomes(t, ts, 30*time.Second, map[string]int{"delivered": n, "dropped": 0})
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.delivered) != n {
		t.Errorf("%d connections delivered, want %d (outcomes %v)", len(b.delivered), n, got)
	}
	for id, rids := range b.delivered {
		if len(rids) != 1 {
			t.Errorf("%s delivered %d times", id, len(rids))
		}
		for _, rid := range b.attempts[id] {
			if rid != rids[0] {
				t.Errorf("%s: attempts with requestIds %v", id, b.attempts[id])
				break
			}
		}
	}
}

// A queue of 10 with 50 deliveries waiting: 40 are dropped and counted.
// The other 10 are dropped when the gateway stops.
func TestDisconnectQueueOverflow(t *testing.T) {
	const n, size = 50, 10
	b := newFlakyBackend(t, 0)
	b.down.Store(true)
	ts := sbt.RunServer(t, disconnectRetryYAML(b, "{queueSize: 10, initialBackoff: 10m, maxBackoff: 10m, retryWindow: 1h}"))
	clients, _ := dialIDs(t, ts, n)
	for _, c := range clients {
		c.Conn.Close()
	}
	waitOutcomes(t, ts, 10*time.Second, map[string]int{"failed": n, "retried": n, "dropped": n - size, "delivered": 0})

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); err == nil || !strings.Contains(err.Error(), "$disconnect") {
		t.Errorf("shutdown with %d deliveries queued: %v, want an error naming them", size, err)
	}
	if got := disconnectOutcomes(t, ts); got["dropped"] != n {
		t.Errorf("after shutdown: outcomes %v, want all %d dropped", got, n)
	}
}

// Shutdown during an outage waits for $disconnect retries until its
// deadline, then drops what is left and returns, leaving no goroutine.
func TestShutdownDuringDisconnectOutage(t *testing.T) {
	const n = 100
	b := newFlakyBackend(t, 0)
	b.down.Store(true)
	before := runtime.NumGoroutine()
	ts := sbt.RunServer(t, disconnectRetryYAML(b, "{initialBackoff: 5ms, maxBackoff: 50ms, retryWindow: 1m}"))
	clients, _ := dialIDs(t, ts, n)
	for _, c := range clients[:n/2] { // these close before the shutdown
		c.Conn.Close()
	}
	waitOutcomes(t, ts, 10*time.Second, map[string]int{"failed": n / 2, "retried": n / 2}, "failed", "retried")
	var readers sync.WaitGroup
	for _, c := range clients[n/2:] { // these get 1001 from the drain
		readers.Go(func() {
			c.Read(10 * time.Second)
			c.Conn.Close()
		})
	}

	const deadline = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err := ts.Shutdown(ctx)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "$disconnect") {
		t.Errorf("shutdown during an outage: %v, want an error naming the deliveries left", err)
	}
	// Past the deadline, only the teardown: attempts in flight return as
	// their context is cancelled, and the queue is dropped.
	if took > deadline+time.Second {
		t.Errorf("shutdown took %v; its deadline was %v", took, deadline)
	}
	// Every delivery ended before Shutdown returned: none is attempted later.
	got := disconnectOutcomes(t, ts)
	if got["dropped"] != n || got["delivered"] != 0 {
		t.Errorf("after shutdown: outcomes %v, want all %d dropped", got, n)
	}
	b.mu.Lock()
	attempts := 0
	for _, a := range b.attempts {
		attempts += len(a)
	}
	b.mu.Unlock()
	if attempts > got["failed"] {
		t.Errorf("the backend saw %d attempts, the gateway counted %d", attempts, got["failed"])
	}
	readers.Wait()
	sbt.CheckFor(t, 5*time.Second, func() error {
		// Idle keep-alive connections to the backend are the HTTP client's
		// (a dial cancelled by the shutdown still completes and is pooled
		// for 90s): the backend closes them, as one that goes away would.
		b.CloseClientConnections()
		if g := runtime.NumGoroutine(); g > before {
			return fmt.Errorf("%d goroutines, %d before the gateway started; the gateway's:\n%s", g, before, gatewayGoroutines())
		}
		return nil
	})
}

// gatewayGoroutines returns the stacks of the goroutines running the
// gateway's code, not this test's.
func gatewayGoroutines() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "switchboard/internal/") && !strings.Contains(g, "switchboard/internal/server_test.") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// disconnectRetry's defaults, and its problems named by path.
func TestDisconnectRetryConfig(t *testing.T) {
	cfg, err := config.Parse([]byte(whoamiYAML), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.DisconnectRetry
	if r.QueueSize != 10000 || r.Window() != 5*time.Minute || r.InitialBackoff.D() != 100*time.Millisecond || r.MaxBackoff.D() != 30*time.Second {
		t.Errorf("defaults: queueSize %d, retryWindow %v, initialBackoff %v, maxBackoff %v; want 10000, 5m, 100ms, 30s",
			r.QueueSize, r.Window(), r.InitialBackoff.D(), r.MaxBackoff.D())
	}
	for _, tc := range []struct {
		yaml, problem string // problem "": valid
	}{
		{"{retryWindow: 0s}", ""}, // retries off
		{"{queueSize: 1, retryWindow: 24h, initialBackoff: 1ms, maxBackoff: 1h}", ""},
		{"{queueSize: -1}", "disconnectRetry.queueSize: -1: want 1 to 1000000"},
		{"{queueSize: 1000001}", "disconnectRetry.queueSize: 1000001: want 1 to 1000000"},
		{"{retryWindow: 25h}", "disconnectRetry.retryWindow: 25h0m0s: want 0 (no retries) to 24h0m0s"},
		{"{retryWindow: 50ms}", "disconnectRetry.initialBackoff: 100ms: want less than retryWindow (50ms), or no retry would ever run"},
		{"{initialBackoff: 500us}", "disconnectRetry.initialBackoff: 500µs: want at least 1ms"},
		{"{initialBackoff: 1s, maxBackoff: 500ms}", "disconnectRetry.initialBackoff: 1s is longer than maxBackoff (500ms)"},
		{"{maxBackoff: 2h}", "disconnectRetry.maxBackoff: 2h0m0s: want at most 1h0m0s"},
		{"{retryWindow: -1s}", "disconnectRetry.retryWindow"},
		{"{queuesize: 5}", "disconnectRetry.queuesize"},
	} {
		_, err := config.Parse([]byte(whoamiYAML+"disconnectRetry: "+tc.yaml+"\n"), func(string) (string, bool) { return "", false })
		switch {
		case tc.problem == "" && err != nil:
			t.Errorf("%s: %v", tc.yaml, err)
		case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
			t.Errorf("%s: %v, want a problem %q", tc.yaml, err, tc.problem)
		}
	}
}
