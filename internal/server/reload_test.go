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

// $disconnect deliveries queued while their backend is down are retried
// on the route a reload puts in place.
func TestReloadMendsDisconnectRetries(t *testing.T) {
	const n = 10
	broken, mended := newFlakyBackend(t, 0), newFlakyBackend(t, 0)
	broken.down.Store(true)
	retry := "{initialBackoff: 20ms, maxBackoff: 50ms, retryWindow: 1m}"
	ts := sbt.RunServer(t, disconnectRetryYAML(broken, retry))
	clients, ids := dialIDs(t, ts, n)
	for _, c := range clients {
		c.Close(1000, "bye")
	}
	waitOutcomes(t, ts, 10*time.Second, map[string]int{"failed": 2 * n, "delivered": 0}, "failed")

	apply(t, ts, disconnectRetryYAML(mended, retry))
	waitOutcomes(t, ts, 10*time.Second, map[string]int{"delivered": n, "dropped": 0})
	for _, id := range ids {
		if _, delivered := mended.requestIDs(id); len(delivered) != 1 {
			t.Errorf("%s: %d deliveries to the new backend, want 1", id, len(delivered))
		}
	}
}

// Messages flowing through many reloads: every one is answered, by the
// old configuration or the new, and no connection closes.
func TestReloadUnderTraffic(t *testing.T) {
	ts := sbt.RunServer(t, reloadYAML("v0", "r"))
	const clients, reloads = 8, 40
	var wg sync.WaitGroup
	var stop atomic.Bool
	var answered atomic.Int64
	errs := make(chan error, clients)
	for range clients {
		c := sbt.MustDial(t, ts.URL)
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				msg := fmt.Sprint(i)
				c.SendText(msg)
				got, err := c.Read(5 * time.Second)
				if err != nil {
					errs <- err
					return
				}
				if !strings.HasPrefix(string(got.Payload), "v") || !strings.HasSuffix(string(got.Payload), ":"+msg) {
					errs <- fmt.Errorf("message %s answered %q", msg, got.Payload)
					return
				}
				answered.Add(1)
			}
		})
	}
	for i := 1; i <= reloads; i++ {
		apply(t, ts, reloadYAML(fmt.Sprintf("v%d", i), "r"))
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if answered.Load() == 0 || ts.Connections() != clients {
		t.Errorf("%d messages answered, %d of %d connections open", answered.Load(), ts.Connections(), clients)
	}
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

// A reload that leaves the JWT authorizer's settings alone keeps it and
// its keys: with the issuer down at that moment, tokens are still
// accepted. Changed settings build a new one.
func TestReloadKeepsJWTAuthorizer(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keys := newCountingJWKS(t, &key.PublicKey)
	yaml := func(audience string) string {
		return sbt.ManagementYAML + `
authorizers:
  jwt:
    type: JWT
    identitySource: route.request.header.Authorization
    jwtConfiguration: {issuer: "https://issuer.example", audience: [` + audience + `], jwksUri: "` + keys.URL + `"}
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
	ts := sbt.RunServer(t, yaml("chat"))
	if _, err := sbt.Dial(t, ts.URL, token("chat")); err != nil {
		t.Fatalf("before the reload: %v", err)
	}

	keys.down.Store(true)
	before := keys.fetches.Load()
	apply(t, ts, yaml("chat"))
	if n := keys.fetches.Load() - before; n != 0 {
		t.Errorf("the JWKS was fetched %d times by a reload that changed nothing about it", n)
	}
	if _, err := sbt.Dial(t, ts.URL, token("chat")); err != nil {
		t.Errorf("after the reload, with the issuer down: %v", err)
	}

	keys.down.Store(false)
	apply(t, ts, yaml("other"))
	if keys.fetches.Load() == before {
		t.Error("new JWT settings did not build a new authorizer")
	}
	refusedWith(t, ts.URL, token("chat"), http.StatusUnauthorized)
	if _, err := sbt.Dial(t, ts.URL, token("other")); err != nil {
		t.Errorf("a token for the new audience: %v", err)
	}
}

// Access logs turned on and then off by reloads.
func TestReloadTurnsAccessLogOnAndOff(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	ts := sbt.RunServer(t, sbt.ManagementYAML+opsEcho)
	c := sbt.MustDial(t, ts.URL)
	c.SendText("before")
	c.ExpectText("echo:before")
	on := sbt.ManagementYAML + `
stage: {accessLogSettings: {destination: ` + path + `, format: "$context.eventType $context.requestId"}}
` + opsEcho
	apply(t, ts, on)
	c.SendText("during")
	c.ExpectText("echo:during")
	apply(t, ts, sbt.ManagementYAML+opsEcho)
	c.SendText("after")
	c.ExpectText("echo:after")
	apply(t, ts, sbt.ManagementYAML+opsEcho) // the writer turned off is closed by shutdown, or after a while
	ts.Shutdown(t.Context())
	if got := logLines(path); !slices.Equal(got, []string{"MESSAGE"}) {
		t.Errorf("access log %q, want the one message sent while it was on", got)
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
