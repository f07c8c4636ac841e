package mock

import (
	"context"
	"testing"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/config"
)

func TestInvoke(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		headers    map[string]string
		want       string
		wantHeader string // X-Test
	}{
		{name: "echo", body: "$request.body", want: `{"a":"b"}`},
		{name: "braced echo", body: "${request.body}", want: `{"a":"b"}`},
		{name: "echo in text", body: "got $request.body", want: `got {"a":"b"}`},
		{name: "path", body: "$request.body.a", want: "b"},
		{name: "context", body: "$context.requestId/$context.messageId", want: "REQUESTREQUEST0=/MESSAGEMESSAGE0="},
		{name: "context in a header", body: "ok", headers: map[string]string{"X-Test": "$context.connectionId"},
			want: "ok", wantHeader: "CONNECTIONCONNE="},
		{name: "static", body: "hello", headers: map[string]string{"X-Test": "v"}, want: "hello", wantHeader: "v"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(&config.MockResponse{StatusCode: 201, Body: tc.body, Headers: tc.headers}, nil)
			if err != nil {
				t.Fatal(err)
			}
			ev := &awsapi.Event{Type: awsapi.Message, RouteKey: "$default", ConnectionID: "CONNECTIONCONNE=",
				RequestID: "REQUESTREQUEST0=", MessageID: "MESSAGEMESSAGE0=", Body: []byte(`{"a":"b"}`)}
			resp, err := m.Invoke(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			// The dispatcher reuses an inline integration's event once
			// Invoke returns: the answer must not change with it.
			*ev = awsapi.Event{}
			if resp.StatusCode != 201 || string(resp.Body) != tc.want || resp.Header.Get("X-Test") != tc.wantHeader {
				t.Errorf("got %d %q %q, want 201 %q %q", resp.StatusCode, resp.Body, resp.Header.Get("X-Test"), tc.want, tc.wantHeader)
			}
		})
	}
}

func TestUsesContext(t *testing.T) {
	for src, want := range map[string]bool{
		"$request.body":                  false,
		"$request.body.a-$context.stage": true,
		`\$context.stage`:                false,
		"${context.requestId}":           true,
		"$stageVariables.x":              false,
	} {
		m, err := New(&config.MockResponse{Body: src}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.usesContext != want {
			t.Errorf("%q: usesContext %v, want %v", src, m.usesContext, want)
		}
	}
}
