package authorizer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboardgw/switchboard/internal/authorizer"
	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/integration"
	"github.com/switchboardgw/switchboard/internal/integration/awsproxy"
	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

const (
	methodARN = "arn:aws:execute-api:us-east-1:123456789012:abc/dev/$connect"
	fnARN     = "arn:aws:lambda:us-east-1:123456789012:function:auth"
)

// connectEvent is the CONNECT event of a client sending token in the query
// string (none when empty).
func connectEvent(token string) *awsapi.Event {
	ev := &awsapi.Event{
		Type: awsapi.Connect, RouteKey: "$connect", ConnectionID: "Dwz4leekPHcCG6Q=", RequestID: "Dwz4lGRyvHcF0KQ=",
		ConnectedAt: 1682138781027, RequestTime: 1682138781029, Stage: "dev", APIID: "abc",
		DomainName: "127.0.0.1:8080", SourceIP: "127.0.0.1",
		Headers:        []awsapi.Header{{Name: "Host", Value: "127.0.0.1:8080"}, {Name: "HeaderAuth1", Value: "headerValue1"}},
		StageVariables: map[string]string{"StageVar1": "stageValue1"},
	}
	if token != "" {
		ev.Query = url.Values{"token": {token}}
	}
	return ev
}

// policy is an authorizer response with one statement.
func policy(effect, resource string, context map[string]any) string {
	b, _ := json.Marshal(map[string]any{
		"principalId": "user-" + effect,
		"policyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{
			map[string]any{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource},
		}},
		"context": context,
	})
	return string(b)
}

// answers is what the test authorizers answer, by token: an HTTP status
// (URL authorizer) or function error (Lambda), and a body.
var answers = map[string]struct {
	status        int
	functionError string
	body          string
}{
	"allow":                  {200, "", policy("Allow", "arn:aws:execute-api:us-east-1:123456789012:abc/*/*", map[string]any{"n": 1.5, "ok": true, "s": "x"})},
	"allow-all":              {200, "", policy("Allow", "*", nil)},
	"allow-rest":             {200, "", policy("Allow", "arn:aws:execute-api:us-east-1:123456789012:abc/*/*/*", nil)},
	"allow-elsewhere":        {200, "", policy("Allow", "arn:aws:execute-api:us-east-1:123456789012:abc/prod/*", nil)},
	"deny":                   {200, "", policy("Deny", methodARN, nil)},
	"no-statement":           {200, "", `{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[]}}`},
	"unauthorized":           {401, "Unhandled", `{"errorMessage":"Unauthorized","errorType":"Error"}`},
	"unauthorized-lowercase": {500, "Unhandled", `{"errorMessage":"unauthorized","errorType":"Error"}`},
	"crash":                  {500, "Unhandled", `{"errorMessage":"boom","errorType":"Error"}`},
	"forbidden":              {403, "", `{"message":"Forbidden"}`},
	"not-json":               {200, "", `<html>`},
	"no-principal":           {200, "", `{"policyDocument":{"Statement":[]}}`},
	"bad-context":            {200, "", policy("Allow", "*", map[string]any{"o": map[string]any{}})},
	"condition":              {200, "", `{"principalId":"u","policyDocument":{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}}`},
	"too-large":              {200, "", policy("Allow", "*", map[string]any{"pad": strings.Repeat("x", authorizer.MaxResponseBytes)})},
}

// outcome is a token and Authorize's answer to it: the status of the
// *Error, or 0 for Allow.
type outcome struct {
	token  string
	status int
}

// outcomes is the table every invoker must satisfy.
var outcomes = []outcome{
	{"allow", 0},
	{"allow-all", 0},
	{"allow-rest", 403},
	{"allow-elsewhere", 403},
	{"deny", 403},
	{"no-statement", 403},
	{"unauthorized", 401},
	{"unauthorized-lowercase", 500},
	{"crash", 500},
	{"not-json", 500},
	{"no-principal", 500},
	{"bad-context", 500},
	{"condition", 500},
	{"too-large", 500},
	{"", 401}, // the identity source is missing: the authorizer is not called
}

func newAuthorizer(t *testing.T, inv authorizer.Invoker, opts authorizer.Options) *authorizer.Authorizer {
	t.Helper()
	sources, err := authorizer.ParseIdentitySource("route.request.querystring.token")
	if err != nil {
		t.Fatal(err)
	}
	opts.Name = "auth"
	opts.IdentitySources = sources
	opts.Invoker = inv
	opts.Region, opts.AccountID, opts.APIID, opts.Stage = "us-east-1", "123456789012", "abc", "dev"
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a, err := authorizer.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if a.MethodARN() != methodARN {
		t.Fatalf("methodArn %q, want %q", a.MethodARN(), methodARN)
	}
	return a
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// checkOutcome checks Authorize's answer against the outcome table.
func checkOutcome(t *testing.T, token string, wantStatus int, res *authorizer.Result, err error) {
	t.Helper()
	if wantStatus == 0 {
		if err != nil || res == nil || res.PrincipalID != "user-Allow" {
			t.Fatalf("token %q: Authorize = %+v, %v; want Allow", token, res, err)
		}
		return
	}
	aerr, ok := errors.AsType[*authorizer.Error](err)
	if res != nil || !ok || aerr.Status != wantStatus || aerr.Authorizer != "auth" || aerr.Reason == "" {
		t.Fatalf("token %q: Authorize = %+v, %v; want an *Error with status %d", token, res, err, wantStatus)
	}
}

// decodeEvent checks that payload is the REQUEST event for token.
func decodeEvent(t *testing.T, payload []byte) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	t.Helper()
	var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Errorf("the authorizer got %s: %v", payload, err)
	}
	if ev.Type != "REQUEST" || ev.MethodArn != methodARN || ev.Headers["HeaderAuth1"] != "headerValue1" ||
		ev.StageVariables["StageVar1"] != "stageValue1" || ev.RequestContext.APIID != "abc" {
		t.Errorf("the authorizer got %s", payload)
	}
	return ev
}

func TestURLAuthorizer(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		token := decodeEvent(t, body).QueryStringParameters["token"]
		mu.Lock()
		calls[token]++
		mu.Unlock()
		switch token {
		case "slow":
			<-r.Context().Done() // until the authorizer gives up
			return
		case "redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		a := answers[token]
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	defer srv.Close()
	inv, err := authorizer.NewInvoker(srv.URL+"/authorize", nil, integration.NewHTTPClient())
	if err != nil {
		t.Fatal(err)
	}
	a := newAuthorizer(t, inv, authorizer.Options{Timeout: 200 * time.Millisecond})

	table := append(outcomes[:len(outcomes):len(outcomes)], outcome{"forbidden", 500}, outcome{"redirect", 500}, outcome{"slow", 500})
	for _, tt := range table {
		res, err := a.Authorize(context.Background(), connectEvent(tt.token))
		checkOutcome(t, tt.token, tt.status, res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls[""] != 0 {
		t.Errorf("the authorizer was called without the identity source")
	}
	if calls["allow"] != 1 || calls["deny"] != 1 {
		t.Errorf("calls = %v", calls)
	}
}

func TestURLAuthorizerResult(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, answers["allow"].body)
	}))
	defer srv.Close()
	inv, err := authorizer.NewInvoker(srv.URL, nil, integration.NewHTTPClient())
	if err != nil {
		t.Fatal(err)
	}
	res, err := newAuthorizer(t, inv, authorizer.Options{}).Authorize(context.Background(), connectEvent("allow"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"n": "1.5", "ok": "true", "s": "x"}
	if res.PrincipalID != "user-Allow" || !maps.Equal(res.Context, want) {
		t.Errorf("Result = %+v, want context %v", res, want)
	}
}

func TestLambdaAuthorizer(t *testing.T) {
	fake := sbt.NewFakeLambda(t, func(inv sbt.Invocation) sbt.LambdaReply {
		var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
		json.Unmarshal(inv.Payload, &ev)
		token := ev.QueryStringParameters["token"]
		if token == "slow" {
			return sbt.LambdaReply{Payload: answers["allow"].body, Delay: 5 * time.Second}
		}
		a := answers[token]
		return sbt.LambdaReply{Payload: a.body, FunctionError: a.functionError}
	})
	inv, err := authorizer.NewInvoker("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"+fnARN+"/invocations",
		awsproxy.NewLambdaClients(), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := newAuthorizer(t, inv, authorizer.Options{Timeout: 300 * time.Millisecond})
	for _, tt := range append(outcomes[:len(outcomes):len(outcomes)], outcome{"slow", 500}) {
		res, err := a.Authorize(context.Background(), connectEvent(tt.token))
		checkOutcome(t, tt.token, tt.status, res, err)
		if tt.token == "slow" && !strings.Contains(err.Error(), "did not answer within 300ms") {
			t.Errorf("timeout reason: %v", err)
		}
	}
	calls := fake.Calls()
	if len(calls) != len(outcomes) { // every row but the missing token, plus slow
		t.Errorf("%d invocations, want %d", len(calls), len(outcomes))
	}
	for _, c := range calls {
		if c.Function != fnARN {
			t.Errorf("invoked %q, want %q", c.Function, fnARN)
		}
		decodeEvent(t, c.Payload)
	}
}

// countingInvoker answers by token and counts its calls.
type countingInvoker struct {
	calls atomic.Int32
}

func (c *countingInvoker) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	c.calls.Add(1)
	var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
	if err := json.Unmarshal(event, &ev); err != nil {
		return nil, err
	}
	a := answers[ev.QueryStringParameters["token"]]
	switch {
	case a.status == 401:
		return nil, authorizer.ErrUnauthorized
	case a.status != 200:
		return nil, errors.New(a.body)
	}
	return []byte(a.body), nil
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestCache(t *testing.T) {
	inv := &countingInvoker{}
	clock := &fakeClock{now: time.Unix(1700000000, 0)}
	a := newAuthorizer(t, inv, authorizer.Options{CacheTTL: time.Minute, Now: clock.Now})
	authorize := func(token string, wantStatus int, wantCalls int32) {
		t.Helper()
		res, err := a.Authorize(context.Background(), connectEvent(token))
		checkOutcome(t, token, wantStatus, res, err)
		if n := inv.calls.Load(); n != wantCalls {
			t.Fatalf("after %q: %d calls, want %d", token, n, wantCalls)
		}
	}
	authorize("allow", 0, 1)
	authorize("allow", 0, 1) // cached
	authorize("deny", 403, 2)
	authorize("deny", 403, 2)         // cached
	authorize("allow-all", 0, 3)      // another key
	authorize("unauthorized", 401, 4) // not cached
	authorize("unauthorized", 401, 5)
	authorize("crash", 500, 6) // not cached
	authorize("crash", 500, 7)
	authorize("", 401, 7)
	clock.Advance(time.Minute - time.Millisecond)
	authorize("allow", 0, 7)
	clock.Advance(time.Millisecond)
	authorize("allow", 0, 8) // expired
	authorize("deny", 403, 9)
}

func TestCacheSharedAcrossGoroutines(t *testing.T) {
	inv := &countingInvoker{}
	a := newAuthorizer(t, inv, authorizer.Options{CacheTTL: time.Hour})
	if _, err := a.Authorize(context.Background(), connectEvent("allow")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if _, err := a.Authorize(context.Background(), connectEvent("allow")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := inv.calls.Load(); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

func TestCanceledHandshake(t *testing.T) {
	inv := invokerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	a := newAuthorizer(t, inv, authorizer.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := a.Authorize(ctx, connectEvent("allow"))
	if e, ok := errors.AsType[*authorizer.Error](err); !ok || e.Status != 500 || !strings.Contains(e.Reason, "handshake ended") {
		t.Errorf("Authorize with a canceled context: %v", err)
	}
}

type invokerFunc func(ctx context.Context, event []byte) ([]byte, error)

func (f invokerFunc) Invoke(ctx context.Context, event []byte) ([]byte, error) { return f(ctx, event) }

func TestReasonsAndLogs(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a := newAuthorizer(t, &countingInvoker{}, authorizer.Options{Logger: log})
	tests := []struct{ token, reason string }{
		{"", "identity source route.request.querystring.token is missing or empty"},
		{"unauthorized", "the authorizer answered Unauthorized"},
		{"deny", "policy statement 0 denies execute-api:Invoke on " + methodARN},
		{"allow-rest", "no policy statement allows execute-api:Invoke on " + methodARN},
		{"condition", "Condition, which Switchboard cannot evaluate"},
		{"too-large", "the limit is 8192"},
		{"bad-context", "context.o is an object"},
		{"no-principal", "principalId is missing"},
		{"crash", "calling the authorizer: "},
	}
	for _, tt := range tests {
		_, err := a.Authorize(context.Background(), connectEvent(tt.token))
		e, ok := errors.AsType[*authorizer.Error](err)
		if !ok || !strings.Contains(e.Reason, tt.reason) || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("token %q: %v; want the reason %q", tt.token, err, tt.reason)
			continue
		}
		mu.Lock()
		logged := buf.String()
		buf.Reset()
		mu.Unlock()
		if warn := e.Status == 500; warn != strings.Contains(logged, tt.reason) {
			t.Errorf("token %q (status %d): warning log %q", tt.token, e.Status, logged)
		}
	}
	if _, err := a.Authorize(context.Background(), connectEvent("")); !errors.As(err, new(*authorizer.MissingSourceError)) {
		t.Errorf("a missing source's error does not wrap the MissingSourceError: %v", err)
	}
	if _, err := a.Authorize(context.Background(), connectEvent("unauthorized")); !errors.Is(err, authorizer.ErrUnauthorized) {
		t.Errorf("Unauthorized's error does not wrap ErrUnauthorized: %v", err)
	}
	if _, err := a.Authorize(context.Background(), connectEvent("condition")); !errors.Is(err, authorizer.ErrCondition) {
		t.Errorf("a Condition's error does not wrap ErrCondition: %v", err)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestNewErrors(t *testing.T) {
	inv := &countingInvoker{}
	src := []authorizer.Source{{Kind: authorizer.SourceHeader, Name: "Auth"}}
	arnParts := func(o authorizer.Options) authorizer.Options {
		o.Region, o.AccountID, o.APIID, o.Stage = "us-east-1", "1", "abc", "dev"
		return o
	}
	tests := []struct {
		name    string
		opts    authorizer.Options
		wantErr string
	}{
		{"no invoker", arnParts(authorizer.Options{}), "no invoker"},
		{"cache without sources", arnParts(authorizer.Options{Invoker: inv, CacheTTL: time.Second}), "at least one identity source"},
		{"negative TTL", arnParts(authorizer.Options{Invoker: inv, CacheTTL: -1}), "negative cache TTL"},
		{"negative size", arnParts(authorizer.Options{Invoker: inv, CacheTTL: 1, CacheMaxEntries: -1, IdentitySources: src}), "negative cache size"},
		{"negative timeout", arnParts(authorizer.Options{Invoker: inv, Timeout: -1}), "negative timeout"},
		{"no stage", authorizer.Options{Invoker: inv, Region: "r", AccountID: "1", APIID: "a"}, "no stage"},
		{"no region", authorizer.Options{Invoker: inv}, "no region"},
		{"slash in stage", authorizer.Options{Invoker: inv, Region: "r", AccountID: "1", APIID: "a", Stage: "x/y"}, `stage "x/y"`},
		{"colon in region", authorizer.Options{Invoker: inv, Region: "r:", AccountID: "1", APIID: "a", Stage: "s"}, `region "r:"`},
		{"both ARN forms", arnParts(authorizer.Options{Invoker: inv, MethodARN: methodARN}), "both a methodArn and a region"},
		{"short methodArn", authorizer.Options{Invoker: inv, MethodARN: "arn:aws:execute-api"}, "want arn:aws:execute-api:REGION"},
	}
	for _, tt := range tests {
		_, err := authorizer.New(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: New = %v, want an error containing %q", tt.name, err, tt.wantErr)
		}
	}

	a, err := authorizer.New(authorizer.Options{Invoker: inv, MethodARN: methodARN, CacheTTL: time.Second, IdentitySources: src})
	if err != nil || a.MethodARN() != methodARN {
		t.Errorf("New with a methodArn: %v", err)
	}
}

func TestNewInvoker(t *testing.T) {
	for _, uri := range []string{"https://auth.example/check", "http://127.0.0.1:9000", fnARN} {
		if _, err := authorizer.NewInvoker(uri, awsproxy.NewLambdaClients(), integration.NewHTTPClient()); err != nil {
			t.Errorf("NewInvoker(%q): %v", uri, err)
		}
	}
	for _, uri := range []string{"", "ftp://x", "http://", "/relative", "arn:aws:lambda:us-east-1:1:fn:x", "::"} {
		if _, err := authorizer.NewInvoker(uri, awsproxy.NewLambdaClients(), integration.NewHTTPClient()); err == nil {
			t.Errorf("NewInvoker(%q) accepted", uri)
		}
	}
}
