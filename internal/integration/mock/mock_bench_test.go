package mock

import (
	"context"
	"testing"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/config"
)

// BenchmarkInvoke answers a message with the echo template and with one
// that reads the event's context.
func BenchmarkInvoke(b *testing.B) {
	for _, tc := range []struct{ name, body string }{
		{"echo", "$request.body"},
		{"context", `{"connectionId":"$context.connectionId","body":$request.body}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m, err := New(&config.MockResponse{StatusCode: 200, Body: tc.body}, nil)
			if err != nil {
				b.Fatal(err)
			}
			ev := &awsapi.Event{Type: awsapi.Message, RouteKey: "$default", ConnectionID: "AAAAAAAAAAAAAAA=",
				RequestID: "BBBBBBBBBBBBBBB=", MessageID: "CCCCCCCCCCCCCCC=",
				Body: []byte(`{"action":"echo","t":1732406400000000000,"p":"xxxxxxxxxxxxxxx"}`)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Invoke(context.Background(), ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
