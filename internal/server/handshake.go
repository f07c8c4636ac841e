package server

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/dispatch"
	"github.com/switchboardgw/switchboard/internal/route"
	"github.com/switchboardgw/switchboard/internal/session"
)

// answerer is the side of a handshake that talks to the client: the raw
// socket (rawAnswer) or net/http (httpAnswer).
type answerer interface {
	// refuse answers with an HTTP error status and ends the exchange.
	refuse(status int, contentType string, body []byte, extra ...awsapi.Header)
	// accept answers 101 Switching Protocols and returns the WebSocket
	// connection.
	accept(key, protocol string) (net.Conn, error)
}

// handshake runs the $connect flow: check the upgrade request, call the
// $connect integration while the client waits, then answer 101 (2xx from
// the integration) or the integration's status, and start the session.
func (s *Server) handshake(ctx context.Context, r *request, a answerer) {
	if len(r.target) > s.cfg.Stage.Limits.MaxURLLength {
		a.refuse(http.StatusRequestURITooLong, textPlain, []byte("URL too long\n"))
		return
	}
	if status, msg := checkUpgrade(r); status != 0 {
		var extra []awsapi.Header
		if status == http.StatusUpgradeRequired {
			extra = []awsapi.Header{{Name: "Upgrade", Value: "websocket"}, {Name: "Sec-WebSocket-Version", Value: "13"}}
		}
		a.refuse(status, textPlain, []byte(msg+"\n"), extra...)
		return
	}
	if s.stopping.Load() {
		a.refuse(http.StatusServiceUnavailable, textPlain, []byte("Server shutting down\n"))
		return
	}
	pending := s.pending.Add(1) // counted before the check, so racing handshakes cannot overshoot
	stillPending := true
	defer func() {
		if stillPending {
			s.pending.Add(-1)
		}
	}()
	if max := s.cfg.Stage.Limits.MaxConnections; max > 0 && s.liveCount.Load()+pending > int64(max) {
		a.refuse(http.StatusTooManyRequests, textPlain, []byte("Too many connections\n"), awsapi.Header{Name: "Retry-After", Value: "1"})
		return
	}

	peer := sourceIP(r.remoteAddr)
	info := session.Info{
		ID:          s.ids.New(),
		SourceIP:    peer,
		UserAgent:   r.header("User-Agent"),
		DomainName:  r.host,
		ConnectedAt: time.Now().UnixMilli(),
	}
	if len(s.proxies) > 0 {
		info.SourceIP = s.proxies.SourceIP(peer, r.values("X-Forwarded-For"))
	}
	var ev *awsapi.Event
	if s.dispatch.HasConnect() || s.guard.Active() {
		ev = s.dispatch.NewEvent(awsapi.Connect, route.Connect, &info)
		ev.Headers = connectHeaders(r, peer, s.scheme)
		if r.rawQuery != "" {
			ev.Query, _ = url.ParseQuery(r.rawQuery)
		}
	}
	if s.guard.Active() {
		auth, refused := s.guard.Check(ctx, ev, r.httpRequest)
		if refused != nil {
			s.log.Info("connection refused", slog.String("connectionId", info.ID), slog.String("sourceIp", info.SourceIP),
				slog.Int("status", refused.Status), slog.String("reason", refused.Reason))
			a.refuse(refused.Status, applicationJSON, refused.Body())
			return
		}
		ev.Auth, info.Auth = auth, auth
	}
	resp, err := s.dispatch.Connect(ctx, ev)
	switch {
	case err != nil && dispatch.IsTimeout(err):
		a.refuse(http.StatusGatewayTimeout, applicationJSON, jsonMessage(awsapi.FrameEndpointTimeout))
		return
	case err != nil:
		a.refuse(http.StatusBadGateway, applicationJSON, jsonMessage(awsapi.FrameInternalError))
		return
	case resp != nil && (resp.StatusCode < 200 || resp.StatusCode > 599):
		// Not an HTTP status a handshake can answer with (1xx would even
		// switch protocols): the integration failed.
		s.log.Warn("integration failed", slog.String("route", route.Connect), slog.String("connectionId", info.ID),
			slog.String("error", "$connect answered statusCode "+strconv.Itoa(resp.StatusCode)+"; want 200 to 599"))
		a.refuse(http.StatusBadGateway, applicationJSON, jsonMessage(awsapi.FrameInternalError))
		return
	case resp != nil && resp.StatusCode > 299:
		// The integration refused: its status, without its body.
		a.refuse(resp.StatusCode, "", nil)
		return
	}

	protocol := ""
	if resp != nil {
		protocol = resp.Header.Get("Sec-WebSocket-Protocol")
	}
	if protocol != "" && !isToken(protocol) {
		// The 101 carries it as is: one token (RFC 6455 §4.2.2), never
		// a list or a line break.
		s.log.Warn("integration failed", slog.String("route", route.Connect), slog.String("connectionId", info.ID),
			slog.String("error", "$connect answered Sec-WebSocket-Protocol "+strconv.Quote(protocol)+"; want one token"))
		a.refuse(http.StatusBadGateway, applicationJSON, jsonMessage(awsapi.FrameInternalError))
		return
	}
	// Counted before the upgrade: once hijacked, http.Server.Shutdown no
	// longer waits for this request, and Shutdown's wait must see it.
	s.live.Add(1)
	// Open, and no longer pending, before the client sees the 101 and
	// can dial again: counted as both, it would find the gateway full.
	// Open first: a racing handshake may count it twice for an instant,
	// never not at all.
	s.liveCount.Add(1)
	s.pending.Add(-1)
	stillPending = false
	conn, err := a.accept(r.header("Sec-WebSocket-Key"), protocol)
	if err != nil {
		s.liveCount.Add(-1)
		s.live.Done()
		s.log.Debug("upgrade failed", slog.String("connectionId", info.ID), slog.String("error", err.Error()))
		return
	}

	c := session.New(conn, info, &s.opts, s)
	s.conns.Add(info.ID, c)
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.Debug("connected", slog.String("connectionId", info.ID), slog.String("sourceIp", info.SourceIP))
	}
	s.serveConn(c)
	if s.stopping.Load() {
		c.Close(session.CodeGoingAway, session.ReasonGoingAway) // missed Shutdown's sweep
	}
}

const (
	textPlain       = "text/plain; charset=utf-8"
	applicationJSON = "application/json"
)

// jsonMessage is API Gateway's error body: {"message":"..."}.
func jsonMessage(message string) []byte {
	return append(awsapi.AppendJSONString([]byte(`{"message":`), message), '}')
}

// serveConn starts reading c: through the poller when there is one,
// else (or when the poller cannot take this connection) on a goroutine.
func (s *Server) serveConn(c *session.Conn) {
	if s.poller != nil {
		err := c.ServePolled(s.poller)
		if err == nil {
			return
		}
		s.log.Debug("reading on a goroutine", slog.String("connectionId", c.ID), slog.String("why", err.Error()))
	}
	go c.Serve()
}

// checkUpgrade validates a WebSocket opening handshake (RFC 6455 §4.2.1)
// before $connect runs, so integrations only see real upgrade attempts.
func checkUpgrade(r *request) (status int, msg string) {
	switch {
	case r.method != http.MethodGet:
		return http.StatusMethodNotAllowed, "WebSocket upgrade requires GET"
	case !r.http11:
		return http.StatusBadRequest, "WebSocket upgrade requires HTTP/1.1"
	case !r.hasToken("Upgrade", "websocket") || !r.hasToken("Connection", "upgrade"):
		return http.StatusUpgradeRequired, "This is a WebSocket endpoint: connect with a WebSocket client"
	case r.header("Sec-WebSocket-Version") != "13":
		return http.StatusUpgradeRequired, "Unsupported Sec-WebSocket-Version: want 13"
	case r.body: // what follows the head must be WebSocket frames
		return http.StatusBadRequest, "An upgrade request has no body"
	}
	key, err := base64.StdEncoding.DecodeString(r.header("Sec-WebSocket-Key"))
	if err != nil || len(key) != 16 {
		return http.StatusBadRequest, "Bad Sec-WebSocket-Key"
	}
	return 0, ""
}

// connectHeaders are the upgrade request's headers plus the forwarding
// headers API Gateway adds in front of its integrations: peer is the
// address the request came from.
func connectHeaders(r *request, peer, scheme string) []awsapi.Header {
	hs := slices.Clone(r.headers)
	xff := peer
	if prior := r.values("X-Forwarded-For"); len(prior) > 0 {
		xff = strings.Join(prior, ", ") + ", " + peer
	}
	hs = setHeader(hs, "X-Forwarded-For", xff)
	if _, port, err := net.SplitHostPort(r.localAddr); err == nil {
		hs = setHeader(hs, "X-Forwarded-Port", port)
	}
	return setHeader(hs, "X-Forwarded-Proto", scheme)
}

// setHeader replaces every header named name (any case) with one value.
func setHeader(hs []awsapi.Header, name, value string) []awsapi.Header {
	out := hs[:0]
	for _, h := range hs {
		if !strings.EqualFold(h.Name, name) {
			out = append(out, h)
		}
	}
	return append(out, awsapi.Header{Name: name, Value: value})
}

func sourceIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}
