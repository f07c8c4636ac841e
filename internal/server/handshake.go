package server

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardgw/switchboard/internal/accesslog"
	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/dispatch"
	"github.com/switchboardgw/switchboard/internal/route"
	"github.com/switchboardgw/switchboard/internal/session"
	"github.com/switchboardgw/switchboard/internal/throttle"
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
func (s *Server) handshake(ctx context.Context, r *request, a0 answerer) {
	// a notes the answer, for the metrics and the access log.
	a := &notedAnswer{answerer: a0}
	g := s.cur.Load() // the whole handshake runs on one configuration
	m := g.routes.ConnectMetrics()
	defer func() {
		if a.status >= 400 && a.status < 500 {
			m.ClientError()
		}
	}()
	if len(r.target) > g.cfg.Stage.Limits.MaxURLLength {
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

	peer := sourceIP(r.remoteAddr)
	info := session.Info{
		ID:          s.ids.New(),
		SourceIP:    peer,
		UserAgent:   r.header("User-Agent"),
		DomainName:  r.host,
		ConnectedAt: time.Now().UnixMilli(),
	}
	if len(g.proxies) > 0 {
		info.SourceIP = g.proxies.SourceIP(peer, r.values("X-Forwarded-For"))
	}
	if why := s.admitIP(info.SourceIP); why != "" {
		s.metrics.ThrottledHandshake()
		s.log.Info("connection refused", slog.String("connectionId", info.ID), slog.String("sourceIp", info.SourceIP),
			slog.Int("status", http.StatusTooManyRequests), slog.String("reason", why))
		a.refuse(http.StatusTooManyRequests, textPlain, []byte("Too many connections from this address\n"), awsapi.Header{Name: "Retry-After", Value: "1"})
		return
	}
	upgraded := false
	defer func() {
		if !upgraded {
			s.releaseIP(info.SourceIP) // the session's end releases it otherwise
		}
	}()

	pending := s.pending.Add(1) // counted before the check, so racing handshakes cannot overshoot
	stillPending := true
	defer func() {
		if stillPending {
			s.pending.Add(-1)
		}
	}()
	if max := g.cfg.Stage.Limits.MaxConnections; max > 0 && s.liveCount.Load()+pending > int64(max) {
		a.refuse(http.StatusTooManyRequests, textPlain, []byte("Too many connections\n"), awsapi.Header{Name: "Retry-After", Value: "1"})
		return
	}

	var ev *awsapi.Event
	if g.routes.HasConnect() || g.guard.Active() || g.routes.LogsAccess() {
		ev = g.routes.NewEvent(awsapi.Connect, route.Connect, &info)
		ev.Headers = connectHeaders(r, peer, s.scheme)
		if r.rawQuery != "" {
			ev.Query, _ = url.ParseQuery(r.rawQuery)
		}
	}
	var rec accesslog.Record // the CONNECT access log line, written when the answer is known
	defer func() {
		if ev != nil && a.status != 0 {
			rec.Event, rec.Status = ev, a.status
			if a.status == http.StatusSwitchingProtocols {
				rec.Status = http.StatusOK // as API Gateway logs a successful $connect
			}
			g.routes.LogAccess(&rec)
		}
	}()
	if g.guard.Active() {
		start := time.Now()
		auth, refused := g.guard.Check(ctx, ev, r.httpRequest)
		rec.Authorize.Latency = time.Since(start)
		if refused != nil {
			s.log.Info("connection refused", slog.String("connectionId", info.ID), slog.String("sourceIp", info.SourceIP),
				slog.Int("status", refused.Status), slog.String("reason", refused.Reason))
			rec.Authorize.Status, rec.Authorize.Error = refused.Status, refused.Reason
			rec.Error.Message, rec.Error.ResponseType = http.StatusText(refused.Status), "AUTHORIZER_FAILURE"
			a.refuse(refused.Status, applicationJSON, refused.Body())
			return
		}
		rec.Authorize.Status = http.StatusOK
		ev.Auth, info.Auth = auth, auth
	}
	if g.routes.HasConnect() {
		s.metrics.Connect()
	}
	start := time.Now()
	resp, err := g.routes.Connect(ctx, ev)
	if g.routes.HasConnect() {
		rec.Integration.Latency = time.Since(start)
		m.ObserveIntegrationLatency(rec.Integration.Latency)
	}
	switch {
	case err != nil:
		dispatch.CountFailure(m, err)
		rec.Integration.Error = err.Error()
		rec.Error.Message, rec.Error.ResponseType = dispatch.ErrorFrameMessage(err), "INTEGRATION_FAILURE"
		if dispatch.IsTimeout(err) {
			a.refuse(http.StatusGatewayTimeout, applicationJSON, jsonMessage(awsapi.FrameEndpointTimeout))
		} else {
			a.refuse(http.StatusBadGateway, applicationJSON, jsonMessage(awsapi.FrameInternalError))
		}
		return
	case resp != nil && (resp.StatusCode < 200 || resp.StatusCode > 599):
		// Not an HTTP status a handshake can answer with (1xx would even
		// switch protocols): the integration failed.
		m.IntegrationError()
		s.log.Warn("integration failed", slog.String("route", route.Connect), slog.String("connectionId", info.ID),
			slog.String("error", "$connect answered statusCode "+strconv.Itoa(resp.StatusCode)+"; want 200 to 599"))
		a.refuse(http.StatusBadGateway, applicationJSON, jsonMessage(awsapi.FrameInternalError))
		return
	case resp != nil && resp.StatusCode > 299:
		// The integration refused: its status, without its body.
		rec.Integration.Status = resp.StatusCode
		a.refuse(resp.StatusCode, "", nil)
		return
	}
	if resp != nil {
		rec.Integration.Status = resp.StatusCode
	}

	protocol := ""
	if resp != nil {
		protocol = resp.Header.Get("Sec-WebSocket-Protocol")
	}
	if protocol != "" && !isToken(protocol) {
		// The 101 carries it as is: one token (RFC 6455 §4.2.2), never
		// a list or a line break.
		m.IntegrationError()
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
	upgraded = true

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

// notedAnswer is an answerer that remembers the status it answered with
// (101 for an upgrade).
type notedAnswer struct {
	answerer
	status int
}

func (a *notedAnswer) refuse(status int, contentType string, body []byte, extra ...awsapi.Header) {
	a.status = status
	a.answerer.refuse(status, contentType, body, extra...)
}

func (a *notedAnswer) accept(key, protocol string) (net.Conn, error) {
	conn, err := a.answerer.accept(key, protocol)
	if err == nil {
		a.status = http.StatusSwitchingProtocols
	}
	return conn, err
}

// admitIP applies the per-source-IP limits to a new handshake; it
// returns why the handshake is refused, or "".
func (s *Server) admitIP(ip string) string {
	if s.ips == nil {
		return ""
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	switch why := s.ips.Admit(addr); why {
	case throttle.Admitted:
		return ""
	default:
		return why.String()
	}
}

// releaseIP ends what admitIP counted for a connection from ip.
func (s *Server) releaseIP(ip string) {
	if s.ips == nil {
		return
	}
	if addr, err := netip.ParseAddr(ip); err == nil {
		s.ips.Release(addr)
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
