package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metric names, as exposed. The Grafana dashboard in deploy/ uses them too.
const (
	ConnectCountName       = "switchboard_connect_count_total"
	MessageCountName       = "switchboard_message_count_total"
	IntegrationErrorName   = "switchboard_integration_error_total"
	ClientErrorName        = "switchboard_client_error_total"
	ExecutionErrorName     = "switchboard_execution_error_total"
	IntegrationLatencyName = "switchboard_integration_latency_seconds"

	OpenConnectionsName    = "switchboard_open_connections"
	ReadyName              = "switchboard_ready"
	SendQueueRejectedName  = "switchboard_send_queue_rejected_total"
	AccessLogDroppedName   = "switchboard_access_log_dropped_total"
	SlowClientClosedName   = "switchboard_slow_client_closed_total"
	ProtocolClosedName     = "switchboard_protocol_closed_total"
	ThrottledName          = "switchboard_throttled_total"
	DisconnectDeliveryName = "switchboard_disconnect_delivery_total"
)

// DefaultLatencyBuckets are the integration latency histogram's upper bounds
// in seconds: 1 ms to 29 s, AWS's integration timeout.
var DefaultLatencyBuckets = []float64{
	.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 29,
}

// Options describe the one API and stage a gateway serves. New copies what it
// needs; changing Options afterwards has no effect. Routes are not options:
// they can change on a reload, and the gateway asks for each one's handle
// with [Metrics.Route] when it builds its route table.
type Options struct {
	// APIID is the api label (AWS's ApiId dimension). Required.
	APIID string
	// Stage is the stage label (AWS's Stage dimension). Required.
	Stage string
	// LatencyBuckets are the integration latency histogram's upper bounds in
	// seconds, strictly increasing. Default DefaultLatencyBuckets.
	LatencyBuckets []float64
	// OpenConnections returns the number of open client connections; it is
	// called on each scrape, concurrently with everything else. Nil leaves
	// switchboard_open_connections out.
	OpenConnections func() int
	// Session returns the session layer's counters (internal/session's
	// Stats); it is called on each scrape, concurrently with everything else.
	// Nil leaves the three metrics it feeds out.
	Session func() SessionCounts
	// AccessLog, when set, reads the access log's lost lines: dropped
	// because its buffer was full, and lost to failed writes.
	AccessLog func() (dropped, lost uint64)
}

// SessionCounts are cumulative counts kept by the session layer, read at
// scrape time so that the session's hot path keeps its own single atomic add.
type SessionCounts struct {
	SlowClosed     int64 // connections cut because they did not read
	QueueRejected  int64 // sends refused because the send queue was full
	ProtocolClosed int64 // connections closed for a protocol or limit violation
}

// Readiness states.
const (
	stateNotReady int32 = iota
	stateReady
	stateDraining
)

// Metrics holds every series of one API and stage, and the health state.
// All methods are safe for concurrent use, and on a nil *Metrics (the
// gateway's when metrics are off), where they count nothing and return nil
// or false.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler
	state   atomic.Int32

	// The route-labelled vectors, from which Route resolves a detailed
	// route's series.
	messages          *prometheus.CounterVec
	integrationErrors *prometheus.CounterVec
	clientErrors      *prometheus.CounterVec
	executionErrors   *prometheus.CounterVec
	latency           *prometheus.HistogramVec

	stage *RouteMetrics

	mu     sync.Mutex
	routes map[string]*RouteMetrics // detailed routes by key, never removed

	connect prometheus.Counter

	throttledMessage    prometheus.Counter
	throttledHandshake  prometheus.Counter
	throttledManagement prometheus.Counter

	disconnectDelivered prometheus.Counter
	disconnectFailed    prometheus.Counter
	disconnectRetried   prometheus.Counter
	disconnectDropped   prometheus.Counter
}

// New registers every metric on a new registry and resolves every labelled
// series except the route-labelled ones, which [Metrics.Route] resolves when
// the gateway builds its route table. The registry also holds the Go runtime
// and process collectors. Readiness starts false.
func New(opts Options) (*Metrics, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	buckets := opts.LatencyBuckets
	if buckets == nil {
		buckets = DefaultLatencyBuckets
	}
	constLabels := prometheus.Labels{"api": opts.APIID, "stage": opts.Stage}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: constLabels}, labels)
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: constLabels})
	}

	connect := counter(ConnectCountName,
		"Connection requests sent to the $connect route (AWS ConnectCount).")
	messages := counterVec(MessageCountName,
		"Messages from (direction=in) or to (direction=out) clients (AWS MessageCount).", "route", "direction")
	integrationErrors := counterVec(IntegrationErrorName,
		"Requests whose integration answered 4XX or 5XX (AWS IntegrationError).", "route")
	clientErrors := counterVec(ClientErrorName,
		"Requests the gateway answered 4XX before invoking the integration (AWS ClientError).", "route")
	executionErrors := counterVec(ExecutionErrorName,
		"Errors while calling the integration: unreachable, timed out, unusable answer (AWS ExecutionError).", "route")
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        IntegrationLatencyName,
		Help:        "Time from sending the request to the integration to receiving its answer, in seconds (AWS IntegrationLatency, in ms there).",
		ConstLabels: constLabels,
		Buckets:     buckets,
	}, []string{"route"})
	throttled := counterVec(ThrottledName,
		"Requests refused by a rate limit: client messages, handshakes, @connections calls.", "kind")
	disconnects := counterVec(DisconnectDeliveryName,
		"$disconnect deliveries: delivered; failed (an attempt failed); retried (another attempt scheduled); dropped (given up).", "outcome")

	m := &Metrics{
		reg: prometheus.NewRegistry(),

		messages:          messages,
		integrationErrors: integrationErrors,
		clientErrors:      clientErrors,
		executionErrors:   executionErrors,
		latency:           latency,

		routes:  make(map[string]*RouteMetrics),
		connect: connect,

		throttledMessage:    throttled.WithLabelValues("message"),
		throttledHandshake:  throttled.WithLabelValues("handshake"),
		throttledManagement: throttled.WithLabelValues("management"),

		disconnectDelivered: disconnects.WithLabelValues("delivered"),
		disconnectFailed:    disconnects.WithLabelValues("failed"),
		disconnectRetried:   disconnects.WithLabelValues("retried"),
		disconnectDropped:   disconnects.WithLabelValues("dropped"),
	}
	// An empty label value is, to Prometheus, no label: the stage-level
	// series have no route label at all.
	m.stage = m.resolve("")

	cs := []prometheus.Collector{
		connect, messages, integrationErrors, clientErrors, executionErrors, latency,
		throttled, disconnects,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        ReadyName,
			Help:        "1 while the gateway is ready for traffic (/readyz answers 200), else 0.",
			ConstLabels: constLabels,
		}, func() float64 {
			if m.state.Load() == stateReady {
				return 1
			}
			return 0
		}),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	if opts.OpenConnections != nil {
		f := opts.OpenConnections
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        OpenConnectionsName,
			Help:        "Client connections open now.",
			ConstLabels: constLabels,
		}, func() float64 { return float64(f()) }))
	}
	if opts.Session != nil {
		cs = append(cs, newSessionCollector(opts.Session, constLabels))
	}
	if f := opts.AccessLog; f != nil {
		for _, reason := range []string{"buffer_full", "write_failed"} {
			labels := prometheus.Labels{"reason": reason}
			for k, v := range constLabels {
				labels[k] = v
			}
			cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        AccessLogDroppedName,
				Help:        "Access log lines not written: the buffer was full, or the write failed.",
				ConstLabels: labels,
			}, func() float64 {
				dropped, lost := f()
				if reason == "buffer_full" {
					return float64(dropped)
				}
				return float64(lost)
			}))
		}
	}
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	m.handler = newHandler(m)
	return m, nil
}

func (o *Options) validate() error {
	var errs []error
	if o.APIID == "" {
		errs = append(errs, errors.New("metrics: APIID is empty"))
	}
	if o.Stage == "" {
		errs = append(errs, errors.New("metrics: Stage is empty"))
	}
	for i := 1; i < len(o.LatencyBuckets); i++ {
		if o.LatencyBuckets[i] <= o.LatencyBuckets[i-1] {
			errs = append(errs, fmt.Errorf("metrics: LatencyBuckets[%d]: %v does not exceed %v", i, o.LatencyBuckets[i], o.LatencyBuckets[i-1]))
			break
		}
	}
	return errors.Join(errs...)
}

// Registry is the registry the metrics live on, for tests and for adding
// collectors; /metrics serves exactly what it holds. Nil on a nil *Metrics.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Route returns the handle for a route key, to be asked for when the route
// table is built (at start and on each reload) and kept: never per message.
//
// With detailed false (AWS's DetailedMetricsEnabled off for the route) it is
// the stage-level handle, the one [Metrics.Stage] returns. With detailed true
// it is the route's own handle, whose series carry route=key: the first call
// for a key resolves them, and every later call returns the same handle, so a
// route that a reload drops and a later one brings back counts on where it
// left off. Series are never removed: a route that leaves the configuration
// keeps its last values on /metrics. A key that is empty or not valid UTF-8
// cannot be a label value and gets the stage-level handle.
//
// A nil *Metrics returns nil, whose methods do nothing.
func (m *Metrics) Route(key string, detailed bool) *RouteMetrics {
	if m == nil {
		return nil
	}
	if !detailed || key == "" || !utf8.ValidString(key) {
		return m.stage
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.routes[key]
	if !ok {
		r = m.resolve(key)
		m.routes[key] = r
	}
	return r
}

// resolve creates (or finds) the series labelled route=key and returns a
// handle on them. key must be valid UTF-8; "" means no route label.
func (m *Metrics) resolve(key string) *RouteMetrics {
	return &RouteMetrics{
		in:               m.messages.WithLabelValues(key, "in"),
		out:              m.messages.WithLabelValues(key, "out"),
		integrationError: m.integrationErrors.WithLabelValues(key),
		clientError:      m.clientErrors.WithLabelValues(key),
		executionError:   m.executionErrors.WithLabelValues(key),
		latency:          m.latency.WithLabelValues(key),
	}
}

// Stage returns the stage-level handle, for what happens before a route is
// known (no route matched) or outside any route (@connections posts).
func (m *Metrics) Stage() *RouteMetrics {
	if m == nil {
		return nil
	}
	return m.stage
}

// Connect counts a connection request sent to the $connect route (AWS
// ConnectCount). Its errors and latency go to the $connect route's handle
// from [Metrics.Route].
func (m *Metrics) Connect() {
	if m != nil {
		m.connect.Inc()
	}
}
