package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/gobwas/ws"

	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

// room is the chat backend behind a real gateway running switchboard.yaml.
type room struct {
	*chat
	gw *sbt.TestServer
}

// startRoom serves the chat on an httptest server and starts a gateway
// from switchboard.yaml with stage.variables.backend pointed at it.
func startRoom(t *testing.T) *room {
	t.Helper()
	// The listener exists before the gateway, the handler only after:
	// the gateway's config needs the backend's address, and the backend's
	// management client needs the gateway's.
	backend := httptest.NewUnstartedServer(nil)
	t.Cleanup(backend.Close) // after the gateway's shutdown and its $disconnects

	raw, err := os.ReadFile("switchboard.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const example = "backend: 127.0.0.1:9000"
	yaml := strings.Replace(string(raw), example, "backend: "+backend.Listener.Addr().String(), 1)
	if yaml == string(raw) {
		t.Fatalf("switchboard.yaml has no %q to point at the test backend", example)
	}
	// The config's credentials are ${CHAT_...:-default}: pin the defaults.
	t.Setenv("CHAT_ACCESS_KEY_ID", defaultAccessKeyID)
	t.Setenv("CHAT_SECRET_ACCESS_KEY", defaultSecretAccessKey)
	gw := sbt.RunServer(t, yaml)

	// A transport of our own, to drop its idle connections before the
	// gateway stops: a connection the SDK dialed but never used would hold
	// the gateway's Shutdown for 5s (net/http waits for new connections).
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	mgmt := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(gw.HTTP),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(defaultAccessKeyID, defaultSecretAccessKey, ""),
		HTTPClient:   &http.Client{Transport: transport},
	})
	c := newChat(mgmt, slog.New(slog.NewTextHandler(t.Output(), nil)))
	backend.Config.Handler = c.handler()
	backend.Start()
	return &room{chat: c, gw: gw}
}

// dial connects a client named name.
func (r *room) dial(t *testing.T, name string) *sbt.Client {
	t.Helper()
	return sbt.MustDial(t, r.gw.URL+"?name="+url.QueryEscape(name))
}

// names returns the members' names, sorted.
func (r *room) names() []string {
	var names []string
	for _, id := range r.memberIDs() {
		if name, ok := r.name(id); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func say(text string) string {
	b, _ := json.Marshal(map[string]string{"action": "sendMessage", "text": text})
	return string(b)
}

func TestBroadcastReachesEveryone(t *testing.T) {
	r := startRoom(t)
	ada, linus, grace := r.dial(t, "ada"), r.dial(t, "linus"), r.dial(t, "grace")
	// $connect finishes before the handshake does.
	if got := r.names(); !slices.Equal(got, []string{"ada", "grace", "linus"}) {
		t.Fatalf("members %q", got)
	}

	ada.SendText(say(`hi "all" ✓`))
	for _, c := range []*sbt.Client{ada, linus, grace} {
		c.ExpectText(`{"from":"ada","text":"hi \"all\" ✓"}`)
	}
	grace.SendText(say("hello ada"))
	for _, c := range []*sbt.Client{ada, linus, grace} {
		c.ExpectText(`{"from":"grace","text":"hello ada"}`)
	}
}

func TestConnectWithoutNameIsRefused(t *testing.T) {
	r := startRoom(t)
	ada := r.dial(t, "ada")
	for _, query := range []string{"", "?name=", "?name=%20", "?nom=ada"} {
		_, err := sbt.Dial(t, r.gw.URL+query, sbt.DialOptions{})
		var status ws.StatusError
		if !errors.As(err, &status) || status != http.StatusUnauthorized {
			t.Errorf("dial %q: %v, want HTTP 401", query, err)
		}
	}
	if n := r.count(); n != 1 {
		t.Errorf("%d members after refusals, want 1", n)
	}
	ada.SendText(say("alone?"))
	ada.ExpectText(`{"from":"ada","text":"alone?"}`)
}

func TestDisconnectLeavesRoom(t *testing.T) {
	r := startRoom(t)
	ada, linus, grace := r.dial(t, "ada"), r.dial(t, "linus"), r.dial(t, "grace")
	if err := linus.Close(1000, "bye"); err != nil {
		t.Fatal(err)
	}
	// $disconnect reaches the backend after the close handshake.
	sbt.CheckFor(t, 5*time.Second, func() error {
		if got := r.names(); !slices.Equal(got, []string{"ada", "grace"}) {
			return fmt.Errorf("members %q, want ada and grace", got)
		}
		return nil
	})
	grace.SendText(say("did linus leave?"))
	ada.ExpectText(`{"from":"grace","text":"did linus leave?"}`)
	grace.ExpectText(`{"from":"grace","text":"did linus leave?"}`)
}

func TestUnknownActionGetsHelp(t *testing.T) {
	r := startRoom(t)
	ada, linus := r.dial(t, "ada"), r.dial(t, "linus")
	for _, msg := range []string{`{"action":"dance"}`, `{"text":"no action"}`, "plain text"} {
		ada.SendText(msg)
		ada.ExpectText(helpText)
	}
	linus.ExpectNothing(100 * time.Millisecond) // help goes to the asker only
}

func TestGoneConnectionsAreForgotten(t *testing.T) {
	r := startRoom(t)
	ada := r.dial(t, "ada")
	// A member whose $disconnect never arrived (say, the backend was down):
	// the gateway answers GoneException for it.
	r.join("AAAAAAAAAAAAAAA=", "ghost")

	ada.SendText(say("anyone?"))
	ada.ExpectText(`{"from":"ada","text":"anyone?"}`)
	sbt.CheckFor(t, 5*time.Second, func() error {
		if got := r.names(); !slices.Equal(got, []string{"ada"}) {
			return fmt.Errorf("members %q, want ada only", got)
		}
		return nil
	})
}

// fakePoster records posts and answers GoneException for ids in gone.
type fakePoster struct {
	gone map[string]bool

	mu          sync.Mutex
	posted      []string
	inflight    int
	maxInflight int
}

func (f *fakePoster) PostToConnection(_ context.Context, in *apigatewaymanagementapi.PostToConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	id := aws.ToString(in.ConnectionId)
	f.mu.Lock()
	f.posted = append(f.posted, id)
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	f.mu.Unlock()
	runtime.Gosched() // let other workers overlap
	f.mu.Lock()
	f.inflight--
	f.mu.Unlock()
	if f.gone[id] {
		return nil, &types.GoneException{Message: aws.String("gone")}
	}
	return &apigatewaymanagementapi.PostToConnectionOutput{}, nil
}

func TestBroadcastBoundsWorkersAndDropsGone(t *testing.T) {
	fake := &fakePoster{gone: map[string]bool{}}
	c := newChat(fake, slog.New(slog.NewTextHandler(t.Output(), nil)))
	c.workers = 4
	for i := range 50 {
		id := fmt.Sprintf("id-%02d", i)
		c.join(id, "user")
		if i%10 == 0 {
			fake.gone[id] = true
		}
	}
	c.broadcast(context.Background(), []byte("x"))
	if len(fake.posted) != 50 {
		t.Errorf("%d posts, want 50", len(fake.posted))
	}
	if fake.maxInflight < 1 || fake.maxInflight > 4 {
		t.Errorf("%d posts in flight at once, want 1 to 4", fake.maxInflight)
	}
	if n := c.count(); n != 45 {
		t.Errorf("%d members left, want 45", n)
	}
}

// TestBadEvents posts events by hand: nothing the gateway or anyone else
// sends makes the backend fail, and each mistake has its statusCode.
func TestBadEvents(t *testing.T) {
	c := newChat(&fakePoster{}, slog.New(slog.NewTextHandler(t.Output(), nil)))
	c.join("member", "ada")
	srv := httptest.NewServer(c.handler())
	defer srv.Close()
	message := func(routeKey, id, body string) string {
		b, _ := json.Marshal(map[string]any{
			"requestContext": map[string]string{"eventType": "MESSAGE", "routeKey": routeKey, "connectionId": id},
			"body":           body,
		})
		return string(b)
	}
	for _, tc := range []struct {
		name, event string
		status      int
	}{
		{"not JSON", `not json`, 400},
		{"truncated", `{"requestContext":{"eventType":"CONN`, 400},
		{"wrong types", `{"requestContext":{"eventType":7}}`, 400},
		{"empty", ``, 400},
		{"unknown event type", `{"requestContext":{"eventType":"PING","connectionId":"member"}}`, 400},
		{"no connection id", `{"requestContext":{"eventType":"CONNECT"},"queryStringParameters":{"name":"x"}}`, 400},
		{"unknown route", message("dance", "member", `{}`), 400},
		{"sendMessage not JSON", message("sendMessage", "member", `hi`), 400},
		{"sendMessage from a stranger", message("sendMessage", "stranger", say("hi")), 403},
		{"sendMessage", message("sendMessage", "member", say("hi")), 200},
		{"connect without name", `{"requestContext":{"eventType":"CONNECT","connectionId":"new"}}`, 401},
		{"disconnect unknown", `{"requestContext":{"eventType":"DISCONNECT","connectionId":"nobody"}}`, 200},
	} {
		resp, err := http.Post(srv.URL+"/events", "application/json", strings.NewReader(tc.event))
		if err != nil {
			t.Fatal(err)
		}
		var pr events.APIGatewayProxyResponse
		err = json.NewDecoder(resp.Body).Decode(&pr)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || pr.StatusCode != tc.status {
			t.Errorf("%s: HTTP %d, statusCode %d (%v), want HTTP 200, statusCode %d", tc.name, resp.StatusCode, pr.StatusCode, err, tc.status)
		}
	}
	if n := c.count(); n != 1 {
		t.Errorf("%d members, want 1", n)
	}
	resp, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /events: %d, want 405", resp.StatusCode)
	}
}

// TestHandleIsALambdaHandler runs the handler as aws-lambda-go runs a
// function: the same code could be deployed behind API Gateway.
func TestHandleIsALambdaHandler(t *testing.T) {
	c := newChat(&fakePoster{}, slog.New(slog.NewTextHandler(t.Output(), nil)))
	h := lambda.NewHandler(c.handle)
	for _, tc := range []struct {
		event  string
		status int
		body   string
	}{
		{`{"requestContext":{"eventType":"CONNECT","connectionId":"a"},"queryStringParameters":{"name":"ada"}}`, 200, ""},
		{`{"requestContext":{"eventType":"CONNECT","connectionId":"b"}}`, 401, "connect with ?name=YOURNAME"},
		{`{"requestContext":{"eventType":"MESSAGE","routeKey":"$default","connectionId":"a"},"body":"?"}`, 200, helpText},
	} {
		out, err := h.Invoke(context.Background(), []byte(tc.event))
		var pr events.APIGatewayProxyResponse
		if err == nil {
			err = json.Unmarshal(out, &pr)
		}
		if err != nil || pr.StatusCode != tc.status || pr.Body != tc.body {
			t.Errorf("%s: %s %v, want statusCode %d body %q", tc.event, out, err, tc.status, tc.body)
		}
	}
	if got, _ := c.name("a"); got != "ada" {
		t.Errorf("connection a is %q, want ada", got)
	}
}
