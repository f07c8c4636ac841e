package awsproxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/integration"
	"github.com/switchboardgw/switchboard/internal/integration/awsproxy"
	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

const fnARN = "arn:aws:lambda:us-east-1:000000000000:function:raw"

func newLambda(t *testing.T) *awsproxy.Lambda {
	t.Helper()
	fn, err := awsapi.ParseLambdaURI(fnARN)
	if err != nil {
		t.Fatal(err)
	}
	return awsproxy.NewLambda(fn, awsproxy.NewLambdaClients())
}

func TestLambdaCall(t *testing.T) {
	fake := sbt.NewFakeLambda(t, func(inv sbt.Invocation) sbt.LambdaReply {
		switch string(inv.Payload) {
		case `"throw"`:
			return sbt.LambdaReply{Payload: `{"errorMessage":"Unauthorized","errorType":"Error","trace":[]}`, FunctionError: "Unhandled"}
		case `"crash"`:
			return sbt.LambdaReply{Payload: `Runtime exited`, FunctionError: "Unhandled"}
		}
		return sbt.LambdaReply{Payload: `{"echo":` + string(inv.Payload) + `}`}
	})
	l := newLambda(t)
	ctx := context.Background()

	got, err := l.Call(ctx, []byte(`{"a":1}`))
	if err != nil || string(got) != `{"echo":{"a":1}}` {
		t.Fatalf("Call = %s, %v", got, err)
	}
	if calls := fake.Calls(); len(calls) != 1 || calls[0].Function != fnARN || string(calls[0].Payload) != `{"a":1}` {
		t.Errorf("fake got %+v", calls)
	}

	_, err = l.Call(ctx, []byte(`"throw"`))
	fe, ok := errors.AsType[*awsproxy.LambdaError](err)
	if !ok || fe.Kind != "Unhandled" || fe.Message != "Unauthorized" || fe.Type != "Error" || fe.Function != fnARN ||
		!strings.Contains(string(fe.Payload), `"trace"`) {
		t.Fatalf("function error = %#v (%v)", fe, err)
	}
	if msg := err.Error(); !strings.Contains(msg, "Unauthorized") || !strings.Contains(msg, "Unhandled") {
		t.Errorf("error text %q lacks the kind or message", msg)
	}

	_, err = l.Call(ctx, []byte(`"crash"`))
	if fe, ok := errors.AsType[*awsproxy.LambdaError](err); !ok || fe.Message != "" || string(fe.Payload) != "Runtime exited" {
		t.Errorf("non-JSON function error = %#v (%v)", fe, err)
	}
}

// TestLambdaInvokeFunctionError: the integration keeps reporting a
// function error as integration.FunctionError with the raw payload.
func TestLambdaInvokeFunctionError(t *testing.T) {
	sbt.NewFakeLambda(t, func(sbt.Invocation) sbt.LambdaReply {
		return sbt.LambdaReply{Payload: `{"errorMessage":"kaput"}`, FunctionError: "Handled"}
	})
	_, err := newLambda(t).Invoke(context.Background(), &awsapi.Event{Type: awsapi.Connect, RouteKey: "$connect"})
	fe, ok := errors.AsType[*integration.FunctionError](err)
	if !ok || fe.Kind != "Handled" || fe.Detail != `{"errorMessage":"kaput"}` {
		t.Errorf("Invoke error = %#v (%v)", fe, err)
	}
}

// TestLambdaResponseBounded: an endpoint answering more than
// MaxResponseBytes fails the call rather than being read whole.
func TestLambdaResponseBounded(t *testing.T) {
	huge := `"` + strings.Repeat("x", integration.MaxResponseBytes) + `"`
	fake := sbt.NewFakeLambda(t, func(sbt.Invocation) sbt.LambdaReply { return sbt.LambdaReply{Payload: huge} })
	_, err := newLambda(t).Call(context.Background(), []byte(`{}`))
	if !errors.Is(err, awsproxy.ErrTooLarge) {
		t.Errorf("Call of an oversized answer: %v, want ErrTooLarge", err)
	}
	if n := len(fake.Calls()); n != 1 {
		t.Errorf("the function was called %d times; an oversized answer is not retried", n)
	}
}

func TestLambdaResponseAtLimit(t *testing.T) {
	exact := `"` + strings.Repeat("x", integration.MaxResponseBytes-2) + `"`
	sbt.NewFakeLambda(t, func(sbt.Invocation) sbt.LambdaReply { return sbt.LambdaReply{Payload: exact} })
	got, err := newLambda(t).Call(context.Background(), []byte(`{}`))
	if err != nil || len(got) != integration.MaxResponseBytes {
		t.Errorf("Call of an answer of exactly the limit: %d bytes, %v", len(got), err)
	}
}

func TestURLPost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(r.Body)
		switch string(body) {
		case `"deny"`:
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"message":"Unauthorized"}`)
		case `"big"`:
			io.WriteString(w, strings.Repeat("y", 101))
		default:
			io.WriteString(w, `{"got":`+string(body)+`}`)
		}
	}))
	defer srv.Close()
	u := awsproxy.NewURL(srv.URL, integration.NewHTTPClient())
	ctx := context.Background()

	status, body, err := u.Post(ctx, []byte(`{"a":1}`), 100)
	if err != nil || status != 200 || string(body) != `{"got":{"a":1}}` {
		t.Errorf("Post = %d %s %v", status, body, err)
	}
	status, body, err = u.Post(ctx, []byte(`"deny"`), 100)
	if err != nil || status != 401 || string(body) != `{"message":"Unauthorized"}` {
		t.Errorf("Post (401) = %d %s %v", status, body, err)
	}
	if status, _, err := u.Post(ctx, []byte(`"big"`), 100); !errors.Is(err, awsproxy.ErrTooLarge) || status != 200 {
		t.Errorf("Post of 101 bytes with limit 100: %d, %v; want 200 and ErrTooLarge", status, err)
	}
	if status, body, err := u.Post(ctx, []byte(`"big"`), 101); err != nil || status != 200 || len(body) != 101 {
		t.Errorf("Post of 101 bytes with limit 101 = %d, %d bytes, %v", status, len(body), err)
	}
}

// TestURLInvoke: the integration keeps its answers for a non-2xx status
// and a proxy response.
func TestURLInvoke(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "nope", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, `{"statusCode":201,"headers":{"Sec-WebSocket-Protocol":"p1"},"body":"hi"}`)
	}))
	defer srv.Close()
	ev := &awsapi.Event{Type: awsapi.Connect, RouteKey: "$connect"}

	in, err := awsproxy.New(srv.URL+"/ok", nil, integration.NewHTTPClient())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := in.Invoke(context.Background(), ev)
	if err != nil || resp.StatusCode != 201 || string(resp.Body) != "hi" || resp.Header.Get("Sec-WebSocket-Protocol") != "p1" {
		t.Errorf("Invoke = %+v, %v", resp, err)
	}

	in, _ = awsproxy.New(srv.URL+"/fail", nil, integration.NewHTTPClient())
	_, err = in.Invoke(context.Background(), ev)
	if fe, ok := errors.AsType[*integration.FunctionError](err); !ok || fe.Kind != "HTTP 500" || fe.Detail != "nope\n" {
		t.Errorf("Invoke of a failing URL: %#v (%v)", fe, err)
	}
}
