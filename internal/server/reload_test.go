package server_test

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboardgw/switchboard/internal/config"
	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

// parseNext parses text as the next configuration of ts, listening where
// ts does (RunServer listens on a free port, whatever the file says).
func parseNext(t testing.TB, ts *sbt.TestServer, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(text), os.LookupEnv)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cfg.Listen, cfg.Reader = ts.Config.Listen, ts.Config.Reader
	return cfg
}

// apply makes text the configuration of ts and returns the restart-only
// settings it changed.
func apply(t *testing.T, ts *sbt.TestServer, text string) []string {
	t.Helper()
	restartOnly, err := ts.Apply(parseNext(t, ts, text))
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return restartOnly
}

// reloadYAML is an API whose $default echoes with prefix and whose route
// named route answers its name.
func reloadYAML(prefix, route string) string {
	return sbt.ManagementYAML + `
integrations:
  echo: {type: MOCK, response: {body: "` + prefix + `:$request.body"}}
  named: {type: MOCK, response: {body: "` + route + `"}}
routes:
  $default: {integration: echo, routeResponseSelectionExpression: $default}
  ` + route + `: {integration: named, routeResponseSelectionExpression: $default}
`
}

// A reload swaps the routes and integrations under open connections: the
// next message of a connection opened before is routed by the new table.
func TestReloadSwapsRoutesUnderOpenConnections(t *testing.T) {
	ts := sbt.RunServer(t, reloadYAML("v1", "old"))
	c := sbt.MustDial(t, ts.URL)
	c.SendText("m")
	c.ExpectText("v1:m")
	c.SendText(`{"action":"old"}`)
	c.ExpectText("old")

	if restartOnly := apply(t, ts, reloadYAML("v2", "new")); len(restartOnly) != 0 {
		t.Errorf("restart-only settings reported: %q", restartOnly)
	}
	c.SendText("m")
	c.ExpectText("v2:m")
	c.SendText(`{"action":"new"}`)
	c.ExpectText("new")
	c.SendText(`{"action":"old"}`) // gone: $default
	c.ExpectText(`v2:{"action":"old"}`)
	if ts.Connections() != 1 {
		t.Errorf("%d connections open, want 1", ts.Connections())
	}
	d := sbt.MustDial(t, ts.URL)
	d.SendText("n")
	d.ExpectText("v2:n")
}

// Models, throttles, the access log's format and destination, and
// detailed metrics all follow a reload.
func TestReloadModelsThrottlesLogsAndMetrics(t *testing.T) {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.log"), filepath.Join(dir, "second.log")
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
metrics: {listen: "127.0.0.1:0"}
stage:
  accessLogSettings: {destination: `+first+`, format: "A $context.eventType $context.requestId"}
`+opsEcho)
	c := sbt.MustDial(t, ts.URL)
	c.SendText(`{}`)
	c.ExpectText("echo:{}")

	apply(t, ts, sbt.ManagementYAML+`
metrics: {listen: "127.0.0.1:0"}
stage:
  accessLogSettings: {destination: `+second+`, format: "B $context.eventType $context.status $context.requestId"}
  routeSettings: {$default: {throttlingBurstLimit: 2, throttlingRateLimit: 0.001, detailedMetricsEnabled: true}}
models:
  N: {type: object, required: [n]}
integrations:
  echo: {type: MOCK, response: {body: "echo:$request.body"}}
routes:
  $default: {integration: echo, routeResponseSelectionExpression: $default,
             modelSelectionExpression: $default, requestModels: {$default: N}}
`)
	c.SendText(`{}`)
	if got := c.ReadText(); !strings.Contains(got, `"Bad request body"`) {
		t.Errorf("a message failing the new model: %s", got)
	}
	c.SendText(`{"n":1}`)
	c.ExpectText(`echo:{"n":1}`)
	c.SendText(`{"n":2}`) // the route's bucket (2) is spent: the model check and this one
	if got := c.ReadText(); !throttledFrame(got) {
		t.Errorf("over the new route throttle: %s", got)
	}

	rr := httptest.NewRecorder()
	ts.MetricsHandler().ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if want := `direction="in",route="$default",stage="dev"} 3`; !strings.Contains(rr.Body.String(), want) {
		t.Errorf("/metrics lacks %q: detailed metrics did not follow the reload", want)
	}

	c.Close(1000, "")
	sbt.CheckFor(t, 5*time.Second, func() error { // written within a second
		if got := logLines(second); !slices.Equal(got, []string{"B MESSAGE 400", "B MESSAGE 200", "B MESSAGE 429"}) {
			return fmt.Errorf("new access log %q", got)
		}
		return nil
	})
	if got := logLines(first); !slices.Equal(got, []string{"A CONNECT", "A MESSAGE"}) {
		t.Errorf("old access log %q: want the lines before the reload, in the old format", got)
	}
}

// A configuration that cannot be built (its access log cannot be opened)
// is refused, and the one in use goes on, whole.
func TestReloadRefusedKeepsServing(t *testing.T) {
	ts := sbt.RunServer(t, reloadYAML("v1", "old"))
	c := sbt.MustDial(t, ts.URL)
	next := parseNext(t, ts, `
stage:
  accessLogSettings: {destination: `+filepath.Join(t.TempDir(), "no", "such", "dir", "a.log")+`, format: $context.requestId}
`+reloadYAML("v2", "new"))
	if _, err := ts.Apply(next); err == nil || !strings.Contains(err.Error(), "stage.accessLogSettings.destination") {
		t.Fatalf("apply: %v, want the access log's error", err)
	}
	c.SendText("m")
	c.ExpectText("v1:m")
	c.SendText(`{"action":"new"}`)
	c.ExpectText(`v1:{"action":"new"}`)
	if got := ts.Server.Config().Integrations["echo"].Response; !strings.Contains(fmt.Sprint(got), "v1") {
		t.Errorf("Config() after a refused reload: echo %v", got)
	}
}

// Settings that need a restart are reported and keep their values; the
// rest of the reload applies.
func TestReloadReportsRestartOnly(t *testing.T) {
	ts := sbt.RunServer(t, reloadYAML("v1", "old"))
	next := parseNext(t, ts, `
stage: {name: prod, limits: {idleTimeout: 1m, maxConnections: 1}}
`+reloadYAML("v2", "new"))
	restartOnly, err := ts.Apply(next)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"stage.name", "stage.limits.idleTimeout"}; !slices.Equal(restartOnly, want) {
		t.Errorf("reported %q, want %q", restartOnly, want)
	}
	cfg := ts.Server.Config()
	if cfg.Stage.Name != "dev" || cfg.Stage.Limits.IdleTimeout.D() != 10*time.Minute || cfg.Stage.Limits.MaxConnections != 1 {
		t.Errorf("in use: stage %q, limits %+v", cfg.Stage.Name, cfg.Stage.Limits)
	}
	c := sbt.MustDial(t, ts.URL) // still /dev
	c.SendText("m")
	c.ExpectText("v2:m")
	refusedWith(t, ts.URL, sbt.DialOptions{}, http.StatusTooManyRequests) // maxConnections applied
	if next.Stage.Name != "prod" {
		t.Errorf("Apply wrote to its argument: stage %q", next.Stage.Name)
	}
}

// Rotating the @connections credentials: the old key is refused, the new
// one accepted, from the reload on.
func TestReloadManagementCredentials(t *testing.T) {
	ts := sbt.RunServer(t, whoamiYAML)
	c := sbt.MustDial(t, ts.URL)
	id := connectionID(c)
	post := func(client *apigatewaymanagementapi.Client) error {
		_, err := client.PostToConnection(t.Context(), &apigatewaymanagementapi.PostToConnectionInput{
			ConnectionId: aws.String(id), Data: []byte("hi")})
		return err
	}
	if err := post(ts.Management()); err != nil {
		t.Fatal(err)
	}
	c.ExpectText("hi")

	apply(t, ts, strings.Replace(whoamiYAML, sbt.ManagementYAML,
		"management: {credentials: [{accessKeyId: AKIDNEW, secretAccessKey: new-secret}]}\n", 1))
	var forbidden *types.ForbiddenException
	if err := post(ts.Management()); !errors.As(err, &forbidden) {
		t.Errorf("old credentials after the reload: %v, want ForbiddenException", err)
	}
	if err := post(sbt.ManagementClient(ts.HTTP, "AKIDNEW", "new-secret")); err != nil {
		t.Errorf("new credentials: %v", err)
	}
	c.ExpectText("hi")
}

// outageRetry retries $disconnect deliveries quickly, for a minute.
const outageRetry = "{initialBackoff: 20ms, maxBackoff: 50ms, retryWindow: 1m}"

// closedDuringOutage runs a gateway whose $disconnect backend is down,
// opens n connections and closes them, and waits until their deliveries
// have failed twice as many times as there are (retries under way). It
// returns the connections' ids.
func closedDuringOutage(t *testing.T, n int) (*sbt.TestServer, []string) {
	t.Helper()
	broken := newFlakyBackend(t, 0)
	broken.down.Store(true)
	ts := sbt.RunServer(t, disconnectRetryYAML(broken, outageRetry))
	clients, ids := dialIDs(t, ts, n)
	for _, c := range clients {
		if err := c.Close(1000, "bye"); err != nil {
			t.Fatal(err)
		}
	}
	waitOutcomes(t, ts, 10*time.Second, map[string]int{"failed": 2 * n, "delivered": 0}, "failed")
	return ts, ids
}

// $disconnect deliveries queued while their backend is down are retried
// on the route a reload puts in place.
func TestReloadMendsDisconnectRetries(t *testing.T) {
	const n = 10
	ts, ids := closedDuringOutage(t, n)
	mended := newFlakyBackend(t, 0)
	apply(t, ts, disconnectRetryYAML(mended, outageRetry))
	waitOutcomes(t, ts, 10*time.Second, map[string]int{"delivered": n, "dropped": 0})
	for _, id := range ids {
		if _, delivered := mended.requestIDs(id); len(delivered) != 1 {
			t.Errorf("%s: %d deliveries to the new backend, want 1", id, len(delivered))
		}
	}
}

// Messages flowing through many reloads, with connections coming and
// going: every message is answered, by the configuration in use when it
// was sent or a later one, never an older one.
func TestReloadUnderTraffic(t *testing.T) {
	ts := sbt.RunServer(t, reloadYAML("v0", "r"))
	const clients, reloads = 8, 40
	var applied atomic.Int64 // the last version Apply has returned for
	var wg sync.WaitGroup
	var stop atomic.Bool
	var answered atomic.Int64
	errs := make(chan error, clients+1)
	for range clients {
		c := sbt.MustDial(t, ts.URL)
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				msg := fmt.Sprint(i)
				least := applied.Load()
				c.SendText(msg)
				got, err := c.Read(5 * time.Second)
				if err != nil {
					errs <- err
					return
				}
				var version int64
				if _, err := fmt.Sscanf(string(got.Payload), "v%d:"+msg, &version); err != nil || version < least {
					errs <- fmt.Errorf("message %s sent after version %d was applied: answered %q", msg, least, got.Payload)
					return
				}
				answered.Add(1)
			}
		})
	}
	wg.Go(func() { // connections opened and closed throughout
		for !stop.Load() {
			c, err := sbt.Dial(t, ts.URL, sbt.DialOptions{})
			if err != nil {
				errs <- err
				return
			}
			c.Close(1000, "")
		}
	})
	for i := 1; i <= reloads; i++ {
		apply(t, ts, reloadYAML(fmt.Sprintf("v%d", i), "r"))
		applied.Store(int64(i))
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if answered.Load() == 0 {
		t.Error("no message answered")
	}
	sbt.CheckFor(t, 5*time.Second, func() error {
		if n := ts.Connections(); n != clients {
			return fmt.Errorf("%d connections open, want the %d that never closed", n, clients)
		}
		return nil
	})
}

// Failed reloads leave nothing behind: not the JWT authorizer built for
// them (and its refreshes), not the access log file opened for them.
func TestFailedReloadsLeakNothing(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	first, second := newCountingJWKS(t, &key.PublicKey), newCountingJWKS(t, &key.PublicKey)
	dir := t.TempDir()
	yaml := func(keys *countingJWKS, log, keysFile string) string {
		return sbt.ManagementYAML + `
stage: {accessLogSettings: {destination: ` + log + `, format: $context.requestId}}
apiKeysFile: ` + keysFile + `
authorizers:
  jwt:
    type: JWT
    identitySource: route.request.header.Authorization
    jwtConfiguration: {issuer: "https://issuer.example", audience: [chat], jwksUri: "` + keys.URL + `"}
integrations: {echo: {type: MOCK, response: {body: ok}}}
routes:
  $connect: {integration: echo, authorizationType: JWT, authorizerId: jwt, apiKeyRequired: true}
  $default: {integration: echo, routeResponseSelectionExpression: $default}
`
	}
	keysFile := filepath.Join(dir, "keys")
	if err := os.WriteFile(keysFile, []byte("k 0000000000000000000000000000000000000000000000000000000000000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := sbt.RunServer(t, yaml(first, filepath.Join(dir, "a.log"), keysFile))
	// Each fails on the keys file, after the authorizer and the log's new
	// destination were made.
	broken := parseNext(t, ts, yaml(second, filepath.Join(dir, "b.log"), filepath.Join(dir, "missing")))
	fds := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(entries)
	}
	if _, err := ts.Apply(broken); err == nil {
		t.Fatal("a reload with a missing keys file succeeded")
	}
	goroutines, files := runtime.NumGoroutine(), fds()
	for range 20 {
		if _, err := ts.Apply(broken); err == nil || !strings.Contains(err.Error(), "apiKeysFile") {
			t.Fatalf("apply: %v, want the keys file's error", err)
		}
	}
	sbt.CheckFor(t, 10*time.Second, func() error {
		if g, f := runtime.NumGoroutine(), fds(); g > goroutines+2 || f > files+2 {
			return fmt.Errorf("after 20 failed reloads: %d goroutines (was %d), %d files (was %d)", g, goroutines, f, files)
		}
		return nil
	})
	if got := ts.Server.Config().Stage.AccessLogSettings.Destination; got != filepath.Join(dir, "a.log") {
		t.Errorf("access log in use: %s", got)
	}
}

// When a reload leaves no $disconnect route, the deliveries waiting for a
// retry are dropped and counted.
func TestReloadWithoutDisconnectDropsQueued(t *testing.T) {
	const n = 5
	ts, _ := closedDuringOutage(t, n)
	apply(t, ts, sbt.ManagementYAML+`
metrics: {listen: "127.0.0.1:0"}
disconnectRetry: `+outageRetry+`
`+opsEcho)
	waitOutcomes(t, ts, 10*time.Second, map[string]int{"dropped": n, "delivered": 0})
}

// countingJWKS serves a key set and counts the fetches; while down it
// answers 503.
type countingJWKS struct {
	*httptest.Server
	fetches atomic.Int64
	down    atomic.Bool
}

func newCountingJWKS(t *testing.T, key *rsa.PublicKey) *countingJWKS {
	inner := jwks(t, key)
	j := &countingJWKS{}
	j.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.fetches.Add(1)
		if j.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		resp, err := http.Get(inner.URL)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(j.Close)
	return j
}

// A reload that changes the JWT authorizer's checks but not its key set
// shares the keys: with the issuer down at that moment, tokens are still
// verified, and nothing is fetched. A new key set is fetched, and the
// replaced authorizer stops refreshing the old one.
func TestReloadSharesJWTKeys(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	first, second := newCountingJWKS(t, &key.PublicKey), newCountingJWKS(t, &key.PublicKey)
	yaml := func(keys *countingJWKS, audience string) string {
		return sbt.ManagementYAML + `
authorizers:
  jwt:
    type: JWT
    identitySource: route.request.header.Authorization
    jwtConfiguration: {issuer: "https://issuer.example", audience: [` + audience + `], jwksUri: "` + keys.URL + `", refreshInterval: 1s}
integrations: {echo: {type: MOCK, response: {body: ok}}}
routes:
  $connect: {integration: echo, authorizationType: JWT, authorizerId: jwt}
  $default: {integration: echo, routeResponseSelectionExpression: $default}
`
	}
	token := func(audience string) sbt.DialOptions {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": "https://issuer.example", "aud": audience,
			"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()})
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return sbt.DialOptions{Header: header("Authorization", "Bearer "+s)}
	}
	ts := sbt.RunServer(t, yaml(first, "chat"))
	if _, err := sbt.Dial(t, ts.URL, token("chat")); err != nil {
		t.Fatalf("before the reload: %v", err)
	}

	first.down.Store(true)
	before := first.fetches.Load()
	apply(t, ts, yaml(first, "other"))
	if n := first.fetches.Load() - before; n > 1 { // one background refresh may fall in between
		t.Errorf("the JWKS was fetched %d times by a reload that kept its key set", n)
	}
	if _, err := sbt.Dial(t, ts.URL, token("other")); err != nil {
		t.Errorf("a token for the new audience, with the issuer down: %v", err)
	}
	refusedWith(t, ts.URL, token("chat"), http.StatusUnauthorized)

	apply(t, ts, yaml(second, "other"))
	if second.fetches.Load() == 0 {
		t.Error("a new jwksUri was not fetched")
	}
	if _, err := sbt.Dial(t, ts.URL, token("other")); err != nil {
		t.Errorf("with the new key set: %v", err)
	}
	// Both refresh every second: while the new one refreshes three times,
	// the old one, closed, adds at most a fetch that was under way.
	old, from := first.fetches.Load(), second.fetches.Load()
	sbt.CheckFor(t, 20*time.Second, func() error {
		if n := second.fetches.Load() - from; n < 3 {
			return fmt.Errorf("%d refreshes of the new key set", n)
		}
		return nil
	})
	if n := first.fetches.Load() - old; n > 1 {
		t.Errorf("the replaced authorizer fetched its key set %d more times", n)
	}
}

// Access logs turned on, off and on again by reloads: lines are written
// exactly while they are on, and the dropped-lines metric never goes back.
func TestReloadTurnsAccessLogOnAndOff(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	off := sbt.ManagementYAML + "metrics: {listen: \"127.0.0.1:0\"}\n" + opsEcho
	on := off + "stage: {accessLogSettings: {destination: " + path + ", format: \"$context.eventType $context.requestId\"}}\n"
	ts := sbt.RunServer(t, off)
	c := sbt.MustDial(t, ts.URL)
	for _, step := range []struct{ config, msg string }{{off, "before"}, {on, "on"}, {off, "off"}, {on, "again"}} {
		apply(t, ts, step.config)
		c.SendText(step.msg)
		c.ExpectText("echo:" + step.msg)
	}
	rr := httptest.NewRecorder()
	ts.MetricsHandler().ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rr.Body.String(), `switchboard_access_log_dropped_total{`) {
		t.Error("/metrics lacks the access log's dropped lines")
	}
	ts.Shutdown(t.Context()) // flushes every writer, the one turned off included
	if got := logLines(path); !slices.Equal(got, []string{"MESSAGE", "MESSAGE"}) {
		t.Errorf("access log %q, want the two messages sent while it was on", got)
	}
}

// logLines returns the lines of the access log at path, each without its
// last field (the request id).
func logLines(path string) []string {
	b, _ := os.ReadFile(path)
	var lines []string
	for line := range strings.Lines(string(b)) {
		if i := strings.LastIndexByte(line, ' '); i >= 0 {
			line = line[:i]
		} else {
			line = ""
		}
		lines = append(lines, line)
	}
	return lines
}
