package server

import (
	"bufio"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/dispatch"
	"github.com/switchboardgw/switchboard/internal/route"
	"github.com/switchboardgw/switchboard/internal/session"
)

// handshake runs the $connect flow: check the upgrade request, call the
// $connect integration while the client waits, then answer 101 (2xx from
// the integration) or the integration's status, and start the session.
func (s *Server) handshake(w http.ResponseWriter, r *http.Request) {
	headers := requestHeaders(r) // takes this request's raw head, whatever happens next
	if status, msg := checkUpgrade(r); status != 0 {
		if status == http.StatusUpgradeRequired {
			w.Header().Set("Upgrade", "websocket")
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		http.Error(w, msg, status)
		return
	}
	if s.stopping.Load() {
		http.Error(w, "Server shutting down", http.StatusServiceUnavailable)
		return
	}
	pending := s.pending.Add(1) // counted before the check, so racing handshakes cannot overshoot
	defer s.pending.Add(-1)
	if max := s.cfg.Stage.Limits.MaxConnections; max > 0 && s.liveCount.Load()+pending > int64(max) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "Too many connections", http.StatusTooManyRequests)
		return
	}

	info := session.Info{
		ID:          s.ids.New(),
		SourceIP:    sourceIP(r.RemoteAddr),
		UserAgent:   r.UserAgent(),
		DomainName:  r.Host,
		ConnectedAt: time.Now().UnixMilli(),
	}
	var ev *awsapi.Event
	if s.dispatch.HasConnect() {
		ev = s.dispatch.NewEvent(awsapi.Connect, route.Connect, &info)
		ev.Headers = s.connectHeaders(r, headers, info.SourceIP)
		if r.URL.RawQuery != "" {
			ev.Query = r.URL.Query()
		}
	}
	resp, err := s.dispatch.Connect(r.Context(), ev)
	switch {
	case err != nil && dispatch.IsTimeout(err):
		writeJSONStatus(w, http.StatusGatewayTimeout, awsapi.FrameEndpointTimeout)
		return
	case err != nil:
		writeJSONStatus(w, http.StatusBadGateway, awsapi.FrameInternalError)
		return
	case resp != nil && (resp.StatusCode < 200 || resp.StatusCode > 599):
		// Not an HTTP status a handshake can answer with (1xx would even
		// switch protocols): the integration failed.
		s.log.Warn("integration failed", slog.String("route", route.Connect), slog.String("connectionId", info.ID),
			slog.String("error", "$connect answered statusCode "+strconv.Itoa(resp.StatusCode)+"; want 200 to 599"))
		writeJSONStatus(w, http.StatusBadGateway, awsapi.FrameInternalError)
		return
	case resp != nil && resp.StatusCode > 299:
		// The integration refused: its status, without its body.
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(resp.StatusCode)
		return
	}

	var header http.Header
	if resp != nil {
		if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "" {
			header = http.Header{"Sec-WebSocket-Protocol": {p}}
		}
	}
	// Counted before the hijack: once hijacked, http.Server.Shutdown no
	// longer waits for this request, and Shutdown's wait must see it.
	s.live.Add(1)
	up := ws.HTTPUpgrader{Header: header, Timeout: s.opts.WriteTimeout}
	conn, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		s.live.Done()
		s.log.Debug("upgrade failed", slog.String("connectionId", info.ID), slog.String("error", err.Error()))
		if conn != nil {
			conn.Close()
		}
		return
	}
	conn = plainConn(conn, rw)

	c := session.New(conn, info, &s.opts, s)
	s.liveCount.Add(1)
	s.conns.Add(info.ID, c)
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("connected", slog.String("connectionId", info.ID), slog.String("sourceIp", info.SourceIP))
	}
	s.serveConn(c)
	if s.stopping.Load() {
		c.Close(session.CodeGoingAway, session.ReasonGoingAway) // missed Shutdown's sweep
	}
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
func checkUpgrade(r *http.Request) (status int, msg string) {
	switch {
	case r.Method != http.MethodGet:
		return http.StatusMethodNotAllowed, "WebSocket upgrade requires GET"
	case !r.ProtoAtLeast(1, 1):
		return http.StatusBadRequest, "WebSocket upgrade requires HTTP/1.1"
	case !headerHasToken(r.Header, "Upgrade", "websocket") || !headerHasToken(r.Header, "Connection", "upgrade"):
		return http.StatusUpgradeRequired, "This is a WebSocket endpoint: connect with a WebSocket client"
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return http.StatusUpgradeRequired, "Unsupported Sec-WebSocket-Version: want 13"
	}
	key, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key"))
	if err != nil || len(key) != 16 {
		return http.StatusBadRequest, "Bad Sec-WebSocket-Key"
	}
	return 0, ""
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// connectHeaders are the upgrade request's headers plus the forwarding
// headers API Gateway adds in front of its integrations.
func (s *Server) connectHeaders(r *http.Request, hs []awsapi.Header, ip string) []awsapi.Header {
	xff := ip
	if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
		xff = prior + ", " + ip
	}
	hs = setHeader(hs, "X-Forwarded-For", xff)
	if _, port, err := net.SplitHostPort(s.localAddr(r)); err == nil {
		hs = setHeader(hs, "X-Forwarded-Port", port)
	}
	return setHeader(hs, "X-Forwarded-Proto", "http")
}

func (s *Server) localAddr(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a.String()
	}
	return ""
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

func writeJSONStatus(w http.ResponseWriter, status int, message string) {
	body := awsapi.AppendJSONString([]byte(`{"message":`), message)
	body = append(body, '}')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// plainConn returns the raw connection behind a hijacked one: the
// recording wrapper is dropped, and so are net/http's buffers, after
// keeping any bytes the client sent early (RFC 6455 forbids it, but a
// pipelined frame must not be lost).
func plainConn(conn net.Conn, rw *bufio.ReadWriter) net.Conn {
	if hc, ok := conn.(*headConn); ok {
		conn = hc.Conn
	}
	if rw != nil && rw.Reader.Buffered() > 0 {
		early, _ := rw.Reader.Peek(rw.Reader.Buffered())
		return &prefixConn{Conn: conn, prefix: append([]byte(nil), early...)}
	}
	return conn
}

// prefixConn replays bytes read ahead of the connection before reading it.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
