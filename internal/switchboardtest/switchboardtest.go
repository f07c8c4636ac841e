// Package switchboardtest starts real gateways for tests and talks to them
// as clients do: RunServer serves a YAML configuration on 127.0.0.1:0,
// Client is a raw WebSocket client that can also misbehave on purpose,
// FakeLambda stands in for the Lambda Invoke API, and CheckFor polls.
package switchboardtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/switchboardgw/switchboard/internal/config"
	"github.com/switchboardgw/switchboard/internal/server"
)

// Test credentials accepted by configurations that use ManagementYAML.
const (
	AccessKeyID     = "AKIDSWITCHBOARDTEST"
	SecretAccessKey = "switchboard-test-secret"
	// ManagementYAML is a management section accepting the test credentials.
	ManagementYAML = "management: {credentials: [{accessKeyId: " + AccessKeyID + ", secretAccessKey: " + SecretAccessKey + "}]}\n"
)

// TestServer is a running gateway.
type TestServer struct {
	*server.Server
	Addr   string // host:port
	URL    string // ws://host:port/stage (wss:// with TLS)
	HTTP   string // http://host:port/stage, the management endpoint (https:// with TLS)
	Config *config.Config
}

// RunServer parses yamlText (listen is forced to 127.0.0.1:0; the
// environment variable SWITCHBOARD_TEST_READER, if set, chooses the
// reader), starts the gateway and stops it when the test ends.
func RunServer(t testing.TB, yamlText string) *TestServer {
	t.Helper()
	cfg, err := config.Parse([]byte(yamlText), os.LookupEnv)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cfg.Listen = "127.0.0.1:0"
	if r := os.Getenv("SWITCHBOARD_TEST_READER"); r != "" {
		cfg.Reader = r // run a suite under the other reader
	}
	level := slog.LevelDebug
	if _, bench := t.(*testing.B); bench {
		level = slog.LevelWarn // a benchmark's thousands of connections would drown its output
	}
	log := slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: level}))
	srv, err := server.New(cfg, log)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	addr := ln.Addr().String()
	ws, web := "ws://", "http://"
	if cfg.TLS != nil {
		ws, web = "wss://", "https://"
	}
	return &TestServer{
		Server: srv, Addr: addr, Config: cfg,
		URL:  ws + addr + "/" + cfg.Stage.Name,
		HTTP: web + addr + "/" + cfg.Stage.Name,
	}
}

// Management returns an AWS SDK for Go v2 management API client for ts,
// signing with the test credentials.
func (ts *TestServer) Management() *apigatewaymanagementapi.Client {
	return ManagementClient(ts.HTTP, AccessKeyID, SecretAccessKey)
}

// ManagementClient returns an AWS SDK management client for endpoint.
func ManagementClient(endpoint, akid, secret string) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, ""),
		Retryer:      aws.NopRetryer{},
	})
}

// testWriter sends server logs to the test log, which shows them only
// for failing tests. Once the test's cleanups have run, lines are dropped:
// t.Log racing with the end of a test is a data race in package testing
// (go.dev/issue/67701), and goroutines such as a connection's reader may
// still log while the server shuts down.
type testWriter struct {
	t     testing.TB
	mu    sync.Mutex
	ended bool
}

// newTestWriter must be called before the server's own cleanup is
// registered, so that its cleanup runs after the server has stopped.
func newTestWriter(t testing.TB) *testWriter {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.ended = true
		w.mu.Unlock()
	})
	return w
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.ended {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// CheckFor polls fn until it returns nil or timeout passes, then fails the
// test with fn's last error.
func CheckFor(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(wait)
		wait = min(wait*2, 50*time.Millisecond)
	}
}

// Invocation is one call the fake Lambda received.
type Invocation struct {
	Function string // the FunctionName from the path: the ARN
	Payload  []byte
}

// LambdaReply is what the fake Lambda answers.
type LambdaReply struct {
	Payload       string
	FunctionError string // sets X-Amz-Function-Error when non-empty
	Delay         time.Duration
}

// FakeLambda serves the Lambda Invoke API (POST
// /2015-03-31/functions/{name}/invocations) with reply, and records calls.
type FakeLambda struct {
	*httptest.Server
	mu    sync.Mutex
	calls []Invocation
}

// NewFakeLambda starts the fake and points the AWS SDK at it through
// AWS_ENDPOINT_URL_LAMBDA, with static test credentials.
func NewFakeLambda(t testing.TB, reply func(Invocation) LambdaReply) *FakeLambda {
	t.Helper()
	f := &FakeLambda{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, "/2015-03-31/functions/")
		name, ok2 := strings.CutSuffix(name, "/invocations")
		if !ok || !ok2 || r.Method != http.MethodPost {
			http.Error(w, `{"message":"unknown operation"}`, http.StatusNotFound)
			return
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			http.Error(w, `{"message":"missing signature"}`, http.StatusForbidden)
			return
		}
		fn, _ := url.PathUnescape(name)
		payload, _ := io.ReadAll(r.Body)
		inv := Invocation{Function: fn, Payload: payload}
		f.mu.Lock()
		f.calls = append(f.calls, inv)
		f.mu.Unlock()
		rep := reply(inv)
		if rep.Delay > 0 {
			select {
			case <-time.After(rep.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if rep.FunctionError != "" {
			w.Header().Set("X-Amz-Function-Error", rep.FunctionError)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, rep.Payload)
	}))
	t.Cleanup(f.Close)
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", f.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDLAMBDATEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "lambda-test-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return f
}

// Calls returns the invocations so far.
func (f *FakeLambda) Calls() []Invocation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Invocation(nil), f.calls...)
}

// WaitCalls waits until at least n invocations arrived and returns them.
func (f *FakeLambda) WaitCalls(t testing.TB, n int) []Invocation {
	t.Helper()
	var calls []Invocation
	CheckFor(t, 5*time.Second, func() error {
		if calls = f.Calls(); len(calls) < n {
			return fmt.Errorf("fake Lambda got %d invocations, want %d", len(calls), n)
		}
		return nil
	})
	return calls
}
