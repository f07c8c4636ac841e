package awsapi

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func BenchmarkMessageEvent(b *testing.B) {
	e := baseEvent(Message)
	e.MessageID = "R1knPc2ntjMCFIA="
	e.Body = []byte(`{"action":"sendMessage","data":"hello world, this is a short chat message"}`)
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkConnectEvent(b *testing.B) {
	e := baseEvent(Connect)
	e.RouteKey = "$connect"
	e.Headers = []Header{{"Host", "127.0.0.1:8080"}, {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
		{"Sec-WebSocket-Version", "13"}, {"User-Agent", "Mozilla/5.0"}, {"X-Forwarded-For", "127.0.0.1"}}
	e.Query = url.Values{"token": {"abc"}}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkMessageEventEncodingJSON is the baseline: the same event as
// aws-lambda-go's struct through encoding/json.
func BenchmarkMessageEventEncodingJSON(b *testing.B) {
	e := baseEvent(Message)
	body := `{"action":"sendMessage","data":"hello world, this is a short chat message"}`
	ev := events.APIGatewayWebsocketProxyRequest{
		Body: body,
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey: e.RouteKey, MessageID: "R1knPc2ntjMCFIA=", EventType: "MESSAGE", ExtendedRequestID: e.RequestID,
			RequestTime: RequestTimeCLF(e.RequestTime), MessageDirection: "IN", Stage: e.Stage, ConnectedAt: e.ConnectedAt,
			RequestTimeEpoch: e.RequestTime, Identity: events.APIGatewayRequestIdentity{SourceIP: e.SourceIP, UserAgent: e.UserAgent},
			RequestID: e.RequestID, DomainName: e.DomainName, ConnectionID: e.ConnectionID, APIID: e.APIID,
		},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(&ev); err != nil {
			b.Fatal(err)
		}
	}
}
