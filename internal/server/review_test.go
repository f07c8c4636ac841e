package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboardgw/switchboard/internal/config"
	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

// slowConnectBackend is an AWS_PROXY URL backend whose CONNECT answers
// 200 after delay (and reports its arrival on connecting); other events
// are recorded and answered at once.
type slowConnectBackend struct {
	*httptest.Server
	connecting chan struct{}
	mu         sync.Mutex
	events     []string // eventType of each event, in arrival order
}

func newSlowConnectBackend(t *testing.T, delay time.Duration) *slowConnectBackend {
	b := &slowConnectBackend{connecting: make(chan struct{}, 16)}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			RequestContext struct {
				EventType string `json:"eventType"`
			} `json:"requestContext"`
		}
		json.NewDecoder(r.Body).Decode(&ev)
		b.mu.Lock()
		b.events = append(b.events, ev.RequestContext.EventType)
		b.mu.Unlock()
		if ev.RequestContext.EventType == "CONNECT" {
			b.connecting <- struct{}{}
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, `{"statusCode":200}`)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *slowConnectBackend) eventTypes() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.events...)
}

// A handshake waiting on $connect when Shutdown starts finishes: the
// client gets 101 and then 1001, and Shutdown waits for it and for its
// $disconnect, as it does for handshakes net/http serves.
func TestShutdownWaitsForPendingHandshake(t *testing.T) {
	backend := newSlowConnectBackend(t, 300*time.Millisecond)
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
integrations:
  slow: {type: AWS_PROXY, uri: "`+backend.URL+`"}
routes:
  $connect: {integration: slow}
  $disconnect: {integration: slow}
  $default: {integration: slow}
`)
	type dialed struct {
		c   *sbt.Client
		err error
	}
	dial := make(chan dialed, 1)
	go func() {
		c, err := sbt.Dial(t, ts.URL, sbt.DialOptions{})
		dial <- dialed{c, err}
	}()
	<-backend.connecting

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shutdown <- ts.Shutdown(ctx)
	}()
	d := <-dial
	if d.err != nil {
		t.Fatalf("a handshake pending when Shutdown began: %v, want 101 then close 1001", d.err)
	}
	d.c.ExpectClose(1001)
	if err := <-shutdown; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Shutdown returned only after the $disconnect delivery.
	got := backend.eventTypes()
	if len(got) != 2 || got[1] != "DISCONNECT" {
		t.Errorf("events when Shutdown returned: %v, want [CONNECT DISCONNECT]", got)
	}
}

// identitySource is optional for a REQUEST authorizer (it is needed only
// for caching): without one, the authorizer is called on every upgrade.
func TestRequestAuthorizerWithoutIdentitySource(t *testing.T) {
	rec := newRecorder(t)
	auth, calls := authorizerFunc(t, func(ev map[string]any) (int, string) {
		return 200, policy("Allow", ev["methodArn"].(string))
	})
	ts := sbt.RunServer(t, recordedYAML(rec, `
authorizers:
  open: {type: REQUEST, uri: "`+auth.URL+`"}
`, ", authorizationType: CUSTOM, authorizerId: open"))
	c, err := sbt.Dial(t, ts.URL, sbt.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close(1000, "")
	if n := calls.Load(); n != 1 {
		t.Errorf("the authorizer ran %d times, want 1", n)
	}
	if a, _ := rec.last(t, "CONNECT")["authorizer"].(map[string]any); a["principalId"] != "user-42" {
		t.Errorf("CONNECT requestContext.authorizer %v", a)
	}
}

// A cache needs identity sources to key it: switchboard validate says so,
// rather than the gateway failing to start on a configuration that
// validated.
func TestAuthorizerCacheWithoutIdentitySourceIsInvalid(t *testing.T) {
	_, err := config.Parse([]byte(`
management: {auth: none}
authorizers:
  open: {type: REQUEST, uri: "http://127.0.0.1:1/auth", authorizerResultTtlInSeconds: 60}
integrations: {m: {type: MOCK}}
routes:
  $connect: {integration: m, authorizationType: CUSTOM, authorizerId: open}
`), func(string) (string, bool) { return "", false })
	want := "authorizers.open.authorizerResultTtlInSeconds: caching needs an identitySource"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("config.Parse: %v, want %q", err, want)
	}
}

// A request whose body never comes holds nothing past handshakeTimeout:
// net/http drains an unread body, before answering and after, and would
// wait for it forever.
func TestStalledBodyIsDropped(t *testing.T) {
	ts := sbt.RunServer(t, withLimits(whoamiYAML, "handshakeTimeout: 300ms"))
	rawExchange(t, ts.Addr, "GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n") // warm up net/http
	before := runtime.NumGoroutine()
	for _, tc := range []struct {
		head   string
		status int
	}{
		{"POST /elsewhere HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", http.StatusForbidden},
		{"POST /dev HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", http.StatusMethodNotAllowed},
		{"GET /dev HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", http.StatusUpgradeRequired},
		// An upgrade whose head is too long to be read on the socket
		// reaches net/http, body and all.
		{upgradeHead("/dev", "X-Big: "+strings.Repeat("b", 9000), "Content-Length: 100"), http.StatusBadRequest},
	} {
		resp, conn, br := rawExchange(t, ts.Addr, tc.head)
		if resp.StatusCode != tc.status {
			t.Errorf("%.40q: status %d, want %d", tc.head, resp.StatusCode, tc.status)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		start := time.Now()
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("%.40q: after the answer: %v, want the connection closed", tc.head, err)
		} else if waited := time.Since(start); waited > 3*time.Second {
			t.Errorf("%.40q: closed after %v; handshakeTimeout is 300ms", tc.head, waited)
		}
		conn.Close()
	}
	sbt.CheckFor(t, 5*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines, %d before", n, before)
		}
		return nil
	})
}

// A connection counts once toward maxConnections: once a client has its
// 101, it may dial again at once and must not find the gateway full.
func TestMaxConnectionsCountsEachConnectionOnce(t *testing.T) {
	const limit = 100
	ts := sbt.RunServer(t, withLimits(whoamiYAML, "maxConnections: "+strconv.Itoa(limit)))
	for i := range limit {
		if _, err := sbt.Dial(t, ts.URL, sbt.DialOptions{}); err != nil {
			t.Fatalf("connection %d of %d: %v", i+1, limit, err)
		}
	}
}

// The subprotocol a $connect integration picks is written into the 101:
// a value that is not a token (a line break, say, from a function that
// echoes a query parameter) must not add lines to the response.
func TestConnectProtocolIsAToken(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"statusCode":200,"headers":{"Sec-WebSocket-Protocol":"chat\r\nX-Injected: yes"}}`)
	}))
	defer backend.Close()
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
integrations:
  pick: {type: AWS_PROXY, uri: "`+backend.URL+`"}
routes:
  $connect: {integration: pick}
  $default: {integration: pick}
`)
	resp, _, _ := rawExchange(t, ts.Addr, upgradeHead("/dev", "Sec-WebSocket-Protocol: chat"))
	if resp.Header.Get("X-Injected") != "" || resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, headers %v; want 502, as for any malformed integration answer", resp.StatusCode, resp.Header)
	}
}

// A JWT authorizer checks the client's token: a source the client does
// not control, such as a stage variable, would let every client in on
// one token.
func TestJWTIdentitySourceIsTheRequest(t *testing.T) {
	_, err := config.Parse([]byte(`
management: {auth: none}
stage: {variables: {token: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}}
authorizers:
  jwt: {type: JWT, identitySource: stageVariables.token,
        jwtConfiguration: {issuer: "https://issuer.example", audience: [chat], jwksUri: "https://issuer.example/jwks"}}
integrations: {m: {type: MOCK}}
routes:
  $connect: {integration: m, authorizationType: JWT, authorizerId: jwt}
`), func(string) (string, bool) { return "", false })
	want := `authorizers.jwt.identitySource: "stageVariables.token": a JWT authorizer reads the token from`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("config.Parse: %v, want %q", err, want)
	}
}
