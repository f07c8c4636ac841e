// Command chat is a chat room backend for a WebSocket API, written as it
// would be for AWS API Gateway and run here behind Switchboard.
//
// The gateway POSTs every event (a client connecting, sending a message,
// disconnecting) to /events as the Lambda proxy event JSON,
// events.APIGatewayWebsocketProxyRequest, and reads back a Lambda proxy
// response. Messages reach the clients through the gateway's @connections
// API, called with the AWS SDK for Go v2.
//
//	go run ./examples/chat [-listen 127.0.0.1:9000] [-gateway http://127.0.0.1:8080/dev]
//
// The routes, as switchboard.yaml wires them:
//
//	$connect     join the room; refused with 401 without ?name=
//	$disconnect  leave the room
//	sendMessage  {"action":"sendMessage","text":"hi"} reaches everyone as {"from":"ada","text":"hi"}
//	$default     anything else is answered with a help text
//
// The @connections API accepts the key in CHAT_ACCESS_KEY_ID and
// CHAT_SECRET_ACCESS_KEY, whose defaults match switchboard.yaml's.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
)

// The management key used when the environment sets none; switchboard.yaml
// has the same defaults.
const (
	defaultAccessKeyID     = "AKIDCHATEXAMPLE"
	defaultSecretAccessKey = "chat-example-secret"
)

const (
	// broadcastWorkers bounds the @connections calls of one broadcast.
	broadcastWorkers = 8
	// maxEventBytes bounds an event: a 128 KiB message, base64 or escaped,
	// plus the request context.
	maxEventBytes = 1 << 20
)

// helpText is the $default route's answer.
const helpText = `Send {"action":"sendMessage","text":"..."} to talk to everyone here.`

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "`address` to receive the gateway's events on (POST /events)")
	gateway := flag.String("gateway", "http://127.0.0.1:8080/dev", "the gateway's management `endpoint`, http://LISTEN/STAGE")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*listen, *gateway, log); err != nil {
		log.Error("chat backend failed", "error", err)
		os.Exit(1)
	}
}

// run serves the chat until SIGINT or SIGTERM, then lets the events in
// flight finish.
func run(listen, gateway string, log *slog.Logger) error {
	mgmt := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(gateway),
		Region:       "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(
			envOr("CHAT_ACCESS_KEY_ID", defaultAccessKeyID),
			envOr("CHAT_SECRET_ACCESS_KEY", defaultSecretAccessKey), ""),
	})
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newChat(mgmt, log).handler(), ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("chat backend listening", "events", "http://"+ln.Addr().String()+"/events", "gateway", gateway)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// poster is the part of the management API client the chat uses.
type poster interface {
	PostToConnection(context.Context, *apigatewaymanagementapi.PostToConnectionInput, ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error)
}

// chat is the room: who is connected, and how to reach them.
type chat struct {
	mgmt    poster
	log     *slog.Logger
	workers int

	mu      sync.Mutex
	members map[string]string // connection id → name
}

func newChat(mgmt poster, log *slog.Logger) *chat {
	return &chat{mgmt: mgmt, log: log, workers: broadcastWorkers, members: map[string]string{}}
}

// handler routes POST /events to the chat.
func (c *chat) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /events", c)
	return mux
}

// ServeHTTP answers one gateway event. The HTTP status is always 200: like
// a Lambda function's, the answer is the proxy response's statusCode.
func (c *chat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var resp events.APIGatewayProxyResponse
	var ev events.APIGatewayWebsocketProxyRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEventBytes))
	if err == nil {
		err = json.Unmarshal(body, &ev)
	}
	if err != nil {
		c.log.Warn("invalid event", "error", err)
		resp = reply(http.StatusBadRequest, "invalid event")
	} else {
		resp, _ = c.handle(r.Context(), ev)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// handle answers one event. It has a Lambda handler's signature: a
// function would run it with lambda.Start(c.handle).
func (c *chat) handle(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	rc := ev.RequestContext
	id := rc.ConnectionID
	switch {
	case id == "":
		// No connection to act for.
	case rc.EventType == "CONNECT":
		name := strings.TrimSpace(ev.QueryStringParameters["name"])
		if name == "" {
			c.log.Info("refused: no name", "connectionId", id)
			return reply(http.StatusUnauthorized, "connect with ?name=YOURNAME"), nil
		}
		c.log.Info("joined", "connectionId", id, "name", name, "members", c.join(id, name))
		return reply(http.StatusOK, ""), nil
	case rc.EventType == "DISCONNECT":
		c.log.Info("left", "connectionId", id, "members", c.leave(id))
		return reply(http.StatusOK, ""), nil
	case rc.EventType == "MESSAGE" && rc.RouteKey == "sendMessage":
		return c.sendMessage(ctx, id, ev.Body), nil
	case rc.EventType == "MESSAGE" && rc.RouteKey == "$default":
		return reply(http.StatusOK, helpText), nil
	}
	c.log.Warn("unexpected event", "eventType", rc.EventType, "routeKey", rc.RouteKey, "connectionId", id)
	return reply(http.StatusBadRequest, "unexpected event"), nil
}

// message is what everyone receives.
type message struct {
	From string `json:"from"`
	Text string `json:"text"`
}

// sendMessage broadcasts {"action":"sendMessage","text":"..."} from id.
func (c *chat) sendMessage(ctx context.Context, id, body string) events.APIGatewayProxyResponse {
	var in struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		c.log.Warn("invalid sendMessage", "connectionId", id, "error", err)
		return reply(http.StatusBadRequest, "invalid sendMessage")
	}
	name, ok := c.name(id)
	if !ok {
		// Joined before this backend started: it never saw the $connect.
		c.log.Warn("message from a connection not in the room", "connectionId", id)
		return reply(http.StatusForbidden, "not in the room")
	}
	msg, err := json.Marshal(message{From: name, Text: in.Text})
	if err != nil {
		return reply(http.StatusInternalServerError, "")
	}
	c.broadcast(ctx, msg)
	return reply(http.StatusOK, "")
}

// broadcast posts msg to every member, at most c.workers at a time.
func (c *chat) broadcast(ctx context.Context, msg []byte) {
	ids := c.memberIDs()
	todo := make(chan string)
	var wg sync.WaitGroup
	for range min(c.workers, len(ids)) {
		wg.Go(func() {
			for id := range todo {
				c.post(ctx, id, msg)
			}
		})
	}
	for _, id := range ids {
		todo <- id
	}
	close(todo)
	wg.Wait()
}

// post sends msg to one connection. A connection the gateway no longer
// knows (410 GoneException: its $disconnect never reached us) is forgotten.
func (c *chat) post(ctx context.Context, id string, msg []byte) {
	_, err := c.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(id),
		Data:         msg,
	})
	var gone *types.GoneException
	switch {
	case err == nil:
	case errors.As(err, &gone):
		c.log.Info("gone", "connectionId", id, "members", c.leave(id))
	default:
		c.log.Warn("post failed", "connectionId", id, "error", err)
	}
}

func (c *chat) join(id, name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.members[id] = name
	return len(c.members)
}

func (c *chat) leave(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.members, id)
	return len(c.members)
}

func (c *chat) name(id string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	name, ok := c.members[id]
	return name, ok
}

func (c *chat) memberIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.members))
	for id := range c.members {
		ids = append(ids, id)
	}
	return ids
}

// count returns the number of members.
func (c *chat) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.members)
}

func reply(status int, body string) events.APIGatewayProxyResponse {
	return events.APIGatewayProxyResponse{StatusCode: status, Body: body}
}
