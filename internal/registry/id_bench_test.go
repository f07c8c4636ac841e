package registry

import (
	"testing"
	"time"
)

var sinkID string

// BenchmarkNew mints one id (a connection's, or the management API's
// request id).
func BenchmarkNew(b *testing.B) {
	g := NewIDs()
	b.ReportAllocs()
	for b.Loop() {
		sinkID = g.New()
	}
}

// BenchmarkMessageIDs mints the two ids every message needs: its
// requestId and its messageId.
func BenchmarkMessageIDs(b *testing.B) {
	g := NewIDs()
	b.ReportAllocs()
	for b.Loop() {
		sinkID, sinkID = g.NewPair(time.Now())
	}
}
