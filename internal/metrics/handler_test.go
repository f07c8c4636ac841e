package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	return do(t, http.MethodGet, url)
}

func do(t *testing.T, method, url string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp.Header
}

func TestHandlerEndpoints(t *testing.T) {
	m := newTest(t, testOptions())
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)

	m.Route("sendMessage", true).MessageIn()

	code, body, h := get(t, srv.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics Content-Type %q", ct)
	}
	for _, want := range []string{
		`switchboard_message_count_total{api="a1b2c3d4e5",direction="in",route="sendMessage",stage="prod"} 1`,
		`switchboard_open_connections{api="a1b2c3d4e5",stage="prod"} 7`,
		`switchboard_ready{api="a1b2c3d4e5",stage="prod"} 0`,
		"\ngo_goroutines ",
		"\nprocess_resident_memory_bytes ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	code, body, _ = get(t, srv.URL+"/healthz")
	if code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, body, _ = do(t, http.MethodHead, srv.URL+"/healthz")
	if code != http.StatusOK || body != "" {
		t.Errorf("HEAD /healthz: %d %q", code, body)
	}
	if code, _, _ = do(t, http.MethodPost, srv.URL+"/healthz"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d, want 405", code)
	}
	if code, _, _ = get(t, srv.URL+"/nope"); code != http.StatusNotFound {
		t.Errorf("/nope: %d, want 404", code)
	}
}

func TestReadiness(t *testing.T) {
	m := newTest(t, testOptions())
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)

	check := func(step string, wantCode int, wantBody string, wantGauge float64) {
		t.Helper()
		code, body, h := get(t, srv.URL+"/readyz")
		if code != wantCode || body != wantBody {
			t.Errorf("%s: /readyz %d %q, want %d %q", step, code, body, wantCode, wantBody)
		}
		if cc := h.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q", step, cc)
		}
		if m.Ready() != (wantCode == http.StatusOK) {
			t.Errorf("%s: Ready() = %v", step, m.Ready())
		}
		if g := samples(t, m.Registry(), ReadyName)[ReadyName+stageLabels]; g != wantGauge {
			t.Errorf("%s: %s = %v, want %v", step, ReadyName, g, wantGauge)
		}
		// Liveness does not follow readiness.
		if code, _, _ := get(t, srv.URL+"/healthz"); code != http.StatusOK {
			t.Errorf("%s: /healthz %d", step, code)
		}
	}
	check("new", http.StatusServiceUnavailable, "not ready\n", 0)
	m.SetReady(true)
	check("serving", http.StatusOK, "ok\n", 1)
	m.SetReady(false)
	check("stopped", http.StatusServiceUnavailable, "not ready\n", 0)
	m.SetReady(true)
	check("serving again", http.StatusOK, "ok\n", 1)
	m.SetDraining()
	check("draining", http.StatusServiceUnavailable, "draining\n", 0)
	m.SetReady(true) // draining is final (TestReadinessDrainingIsFinal)
	check("ready after draining", http.StatusServiceUnavailable, "draining\n", 0)
}

// TestOwnRegistry: /metrics serves the package's registry, not the global
// one, and two gateways in one process do not collide.
func TestOwnRegistry(t *testing.T) {
	global := prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_test_global_total", Help: "x"})
	if err := prometheus.Register(global); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prometheus.Unregister(global) })

	m1 := newTest(t, testOptions())
	opts := testOptions()
	opts.Stage = "dev"
	m2 := newTest(t, opts)
	m2.Connect()

	srv := httptest.NewServer(m1.Handler())
	t.Cleanup(srv.Close)
	_, body, _ := get(t, srv.URL+"/metrics")
	if strings.Contains(body, "switchboard_test_global_total") {
		t.Error("/metrics serves the global registry")
	}
	if strings.Contains(body, `stage="dev"`) {
		t.Error("/metrics serves another Metrics' series")
	}
	// Scraped twice: the handler's own instrumentation is registered once.
	if code, _, _ := get(t, srv.URL+"/metrics"); code != http.StatusOK {
		t.Errorf("second scrape: %d", code)
	}
}

// TestReadinessDrainingIsFinal: once shutdown has begun, a late
// SetReady(true) (Serve marking itself ready while Shutdown runs) must not
// make /readyz answer 200 again.
func TestReadinessDrainingIsFinal(t *testing.T) {
	m := newTest(t, testOptions())
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	m.SetDraining()
	m.SetReady(true)
	if code, body, _ := get(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable || body != "draining\n" {
		t.Errorf("SetReady(true) after SetDraining: /readyz %d %q, want 503 \"draining\\n\"", code, body)
	}
	m.SetReady(false)
	if code, body, _ := get(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable || body != "draining\n" {
		t.Errorf("SetReady(false) after SetDraining: /readyz %d %q, want 503 \"draining\\n\"", code, body)
	}
	if m.Ready() {
		t.Error("Ready() after SetDraining")
	}
}
