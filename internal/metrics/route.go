package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RouteMetrics counts the traffic of one route, or of the whole stage for
// routes without detailed metrics. Each method is one atomic add (a histogram
// observation a few) on a series resolved when the handle was made (by New
// for the stage, by [Metrics.Route] for a route): no lookup, no allocation.
// Methods on a nil *RouteMetrics do nothing.
type RouteMetrics struct {
	in               prometheus.Counter
	out              prometheus.Counter
	integrationError prometheus.Counter
	clientError      prometheus.Counter
	executionError   prometheus.Counter
	latency          prometheus.Observer
}

// MessageIn counts a message received from a client (AWS MessageCount).
func (r *RouteMetrics) MessageIn() {
	if r != nil {
		r.in.Inc()
	}
}

// MessageOut counts a message sent to a client: a route response, an error
// frame or an @connections post (AWS MessageCount).
func (r *RouteMetrics) MessageOut() {
	if r != nil {
		r.out.Inc()
	}
}

// IntegrationError counts an integration answer with a 4XX or 5XX status or
// a function error (AWS IntegrationError).
func (r *RouteMetrics) IntegrationError() {
	if r != nil {
		r.integrationError.Inc()
	}
}

// ClientError counts a 4XX the gateway answered before invoking the
// integration: no route, failed validation, throttled, unauthorized (AWS
// ClientError).
func (r *RouteMetrics) ClientError() {
	if r != nil {
		r.clientError.Inc()
	}
}

// ExecutionError counts a failure to call the integration: unreachable,
// timed out, an answer that could not be used (AWS ExecutionError).
func (r *RouteMetrics) ExecutionError() {
	if r != nil {
		r.executionError.Inc()
	}
}

// ObserveIntegrationLatency records how long the integration took to answer
// (AWS IntegrationLatency). As AWS does, leave MOCK integrations out.
func (r *RouteMetrics) ObserveIntegrationLatency(d time.Duration) {
	if r != nil {
		r.latency.Observe(d.Seconds())
	}
}
