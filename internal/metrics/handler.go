package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// SetReady says whether the gateway takes traffic: true once it serves, false
// when it stops. /readyz answers 200 only while ready. After SetDraining it
// does nothing: shutdown is final, so a SetReady(true) that loses a race with
// it cannot make /readyz answer 200 again.
func (m *Metrics) SetReady(ready bool) {
	if m == nil {
		return
	}
	if ready {
		m.state.CompareAndSwap(stateNotReady, stateReady)
	} else {
		m.state.CompareAndSwap(stateReady, stateNotReady)
	}
}

// SetDraining marks the gateway as shutting down: /readyz answers 503
// "draining" from now on.
func (m *Metrics) SetDraining() {
	if m != nil {
		m.state.Store(stateDraining)
	}
}

// Ready reports whether /readyz answers 200; false on a nil *Metrics.
func (m *Metrics) Ready() bool { return m != nil && m.state.Load() == stateReady }

// Handler serves GET (and HEAD) /metrics, /healthz and /readyz; anything else
// is 404 or 405. It is built once, by New. A nil *Metrics has nothing to
// serve and returns nil.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return nil
	}
	return m.handler
}

// scrapeTimeout bounds one /metrics answer; Prometheus's default scrape
// timeout is 10 s.
const scrapeTimeout = 10 * time.Second

func newHandler(m *Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:            m.reg, // promhttp_metric_handler_errors_total
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             scrapeTimeout,
	})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		switch m.state.Load() {
		case stateReady:
			writeText(w, http.StatusOK, "ok\n")
		case stateDraining:
			writeText(w, http.StatusServiceUnavailable, "draining\n")
		default:
			writeText(w, http.StatusServiceUnavailable, "not ready\n")
		}
	})
	return mux
}

func writeText(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
