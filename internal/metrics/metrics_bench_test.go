package metrics

import (
	"testing"
	"time"
)

func benchMetrics(b *testing.B) *Metrics {
	b.Helper()
	m, err := New(testOptions())
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkMessageIn counts a message on a route with detailed metrics:
// what dispatch does per client message.
func BenchmarkMessageIn(b *testing.B) {
	r := benchMetrics(b).Route("sendMessage", true)
	b.ReportAllocs()
	for b.Loop() {
		r.MessageIn()
	}
}

// BenchmarkMessageInParallel is BenchmarkMessageIn from every P on one
// series, the worst case for the shared cache line.
func BenchmarkMessageInParallel(b *testing.B) {
	r := benchMetrics(b).Route("sendMessage", true)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.MessageIn()
		}
	})
}

// BenchmarkMessageOutStage counts on the stage-level handle a route
// without detailed metrics shares.
func BenchmarkMessageOutStage(b *testing.B) {
	r := benchMetrics(b).Route("join", false)
	b.ReportAllocs()
	for b.Loop() {
		r.MessageOut()
	}
}

func BenchmarkIntegrationError(b *testing.B) {
	r := benchMetrics(b).Route("sendMessage", true)
	b.ReportAllocs()
	for b.Loop() {
		r.IntegrationError()
	}
}

// BenchmarkObserveIntegrationLatency records a latency into the
// histogram: a bucket search and three atomic operations.
func BenchmarkObserveIntegrationLatency(b *testing.B) {
	r := benchMetrics(b).Route("sendMessage", true)
	b.ReportAllocs()
	d := 37 * time.Millisecond
	for b.Loop() {
		r.ObserveIntegrationLatency(d)
	}
}

func BenchmarkObserveIntegrationLatencyParallel(b *testing.B) {
	r := benchMetrics(b).Route("sendMessage", true)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := 37 * time.Millisecond
		for pb.Next() {
			r.ObserveIntegrationLatency(d)
		}
	})
}

func BenchmarkThrottledMessage(b *testing.B) {
	m := benchMetrics(b)
	b.ReportAllocs()
	for b.Loop() {
		m.ThrottledMessage()
	}
}

// BenchmarkRouteLookup is the one-time lookup the gateway does per route
// when it builds its table, for comparison: not on the hot path.
func BenchmarkRouteLookup(b *testing.B) {
	m := benchMetrics(b)
	b.ReportAllocs()
	for b.Loop() {
		m.Route("sendMessage", true).MessageIn()
	}
}

// BenchmarkScrape gathers the whole registry, as one /metrics request
// does (without encoding).
func BenchmarkScrape(b *testing.B) {
	m := benchMetrics(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Registry().Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
