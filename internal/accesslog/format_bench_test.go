package accesslog

import (
	"testing"
	"time"
)

// benchFormat is a 10-variable JSON format, the common fields and the
// integration's outcome.
const benchFormat = `{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",` +
	`"requestTime":"$context.requestTime","eventType":"$context.eventType","routeKey":"$context.routeKey",` +
	`"status":$context.status,"connectionId":"$context.connectionId","messageId":"$context.messageId",` +
	`"integrationLatency":$context.integrationLatency,"error":$context.error.messageString}`

func BenchmarkAppend(b *testing.B) {
	f := MustCompile(benchFormat)
	_, m, _ := testRecords()
	m.Integration.Latency = 42_000_000
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = f.Append(buf[:0], m)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkAppendText(b *testing.B) {
	f := MustCompile(`$context.identity.sourceIp - $context.identity.caller [$context.requestTime] "$context.eventType $context.routeKey" $context.status $context.requestId "$context.identity.userAgent" $context.integrationLatency $context.connectionId`)
	c, _, _ := testRecords()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = f.Append(buf[:0], c)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkWriterLog is the whole cost of a line: render, copy into the
// buffer and (amortized, every 256 lines) the write, to a discarding
// destination. No line is dropped.
func BenchmarkWriterLog(b *testing.B) {
	w := NewWriter(discard{}, Options{FlushInterval: time.Hour})
	defer w.Close()
	f := MustCompile(benchFormat)
	_, m, _ := testRecords()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		w.Log(f, m)
		if n++; n%256 == 0 {
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	if st := w.Stats(); st.Dropped > 0 {
		b.Fatalf("%d lines dropped", st.Dropped)
	}
}

// BenchmarkWriterLogParallel has every P log as fast as it can, far faster
// than the writer goroutine gets scheduled to write: it reports the share
// of lines dropped.
func BenchmarkWriterLogParallel(b *testing.B) {
	w := NewWriter(discard{}, Options{})
	defer w.Close()
	f := MustCompile(benchFormat)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		_, m, _ := testRecords()
		for pb.Next() {
			w.Log(f, m)
		}
	})
	b.StopTimer()
	st := w.Stats()
	b.ReportMetric(float64(st.Dropped)/float64(st.Lines+st.Dropped), "dropped/line")
}
