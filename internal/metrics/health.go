package metrics

import "github.com/prometheus/client_golang/prometheus"

// ThrottledMessage counts a client message refused by a rate limit.
func (m *Metrics) ThrottledMessage() {
	if m != nil {
		m.throttledMessage.Inc()
	}
}

// ThrottledHandshake counts an upgrade refused by a rate limit.
func (m *Metrics) ThrottledHandshake() {
	if m != nil {
		m.throttledHandshake.Inc()
	}
}

// ThrottledManagement counts an @connections call refused by a rate limit.
func (m *Metrics) ThrottledManagement() {
	if m != nil {
		m.throttledManagement.Inc()
	}
}

// DisconnectDelivered counts a $disconnect event its integration accepted.
func (m *Metrics) DisconnectDelivered() {
	if m != nil {
		m.disconnectDelivered.Inc()
	}
}

// DisconnectFailed counts a failed $disconnect attempt, whether or not
// another follows.
func (m *Metrics) DisconnectFailed() {
	if m != nil {
		m.disconnectFailed.Inc()
	}
}

// DisconnectRetried counts a $disconnect attempt scheduled after a failure.
func (m *Metrics) DisconnectRetried() {
	if m != nil {
		m.disconnectRetried.Inc()
	}
}

// DisconnectDropped counts a $disconnect event given up on: attempts
// exhausted, no room to queue it, or the shutdown deadline passed.
func (m *Metrics) DisconnectDropped() {
	if m != nil {
		m.disconnectDropped.Inc()
	}
}

// sessionCollector reads the session layer's counters once per scrape.
type sessionCollector struct {
	read                     func() SessionCounts
	slow, rejected, protocol *prometheus.Desc
}

var _ prometheus.Collector = (*sessionCollector)(nil)

func newSessionCollector(read func() SessionCounts, constLabels prometheus.Labels) *sessionCollector {
	return &sessionCollector{
		read: read,
		slow: prometheus.NewDesc(SlowClientClosedName,
			"Connections closed because the client did not read (send queue full or write timeout).", nil, constLabels),
		rejected: prometheus.NewDesc(SendQueueRejectedName,
			"Sends refused because the connection's send queue was full.", nil, constLabels),
		protocol: prometheus.NewDesc(ProtocolClosedName,
			"Connections closed for a protocol or limit violation by the client.", nil, constLabels),
	}
}

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.slow
	ch <- c.rejected
	ch <- c.protocol
}

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.read()
	ch <- prometheus.MustNewConstMetric(c.slow, prometheus.CounterValue, float64(n.SlowClosed))
	ch <- prometheus.MustNewConstMetric(c.rejected, prometheus.CounterValue, float64(n.QueueRejected))
	ch <- prometheus.MustNewConstMetric(c.protocol, prometheus.CounterValue, float64(n.ProtocolClosed))
}
