package server

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboardgw/switchboard/internal/awsapi"
)

// acceptLoop accepts connections until ln is closed, backing off on
// errors such as running out of file descriptors, as net/http does.
func (s *Server) acceptLoop(ln net.Listener) error {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.stopping.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", slog.String("error", err.Error()), slog.Duration("in", backoff))
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		go s.serveFirst(c)
	}
}

// isTemporary reports errors that accept recovers from, like EMFILE.
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// serveFirst reads a new connection's first request head. A WebSocket
// upgrade to the stage path is answered here (rawAnswer); anything else
// goes to net/http with the bytes read so far.
func (s *Server) serveFirst(c net.Conn) {
	if !s.addFresh(c) {
		c.Close() // shutting down
		return
	}
	defer s.firsts.Done()
	c.SetReadDeadline(time.Now().Add(s.Config().Stage.Limits.HandshakeTimeout.D()))
	br := headReaders.Get().(*bufio.Reader)
	br.Reset(c)
	release := func() []byte {
		rest, _ := br.Peek(br.Buffered())
		rest = append([]byte(nil), rest...)
		br.Reset(nil)
		headReaders.Put(br)
		return rest
	}
	n, err := peekHead(br)
	if !s.removeFresh(c) {
		release()
		return // closed by Shutdown
	}
	if err != nil {
		// Silent, slow past the handshake timeout, or gone: nothing to
		// answer, as net/http does.
		release()
		c.Close()
		return
	}
	if n == 0 {
		s.handOff(c, release()) // longer than the buffer: net/http's limit applies
		return
	}
	head, _ := br.Peek(n)
	line, rest := bytesCutLine(head)
	method, target, http11, ok := parseRequestLine(line)
	path, rawQuery, _ := strings.Cut(target, "?")
	if !ok || !s.isStagePath(path) || method != http.MethodGet || !http11 {
		s.handOff(c, release())
		return
	}
	hs, ok := parseHeaderLines(rest)
	r := &request{method: method, path: path, rawQuery: rawQuery, target: target, http11: http11, headers: hs,
		remoteAddr: c.RemoteAddr().String(), localAddr: c.LocalAddr().String()}
	if ok && !r.hasToken("Upgrade", "websocket") {
		s.handOff(c, release()) // net/http answers, and may keep the connection
		return
	}
	br.Discard(n)
	a := &rawAnswer{conn: c, early: release()}
	if !ok {
		a.refuse(http.StatusBadRequest, textPlain, []byte("Malformed request header\n"))
		return
	}
	if n > s.Config().Stage.Limits.MaxHeaderBytes {
		a.refuse(http.StatusRequestHeaderFieldsTooLarge, textPlain, []byte("Request header too large\n"))
		return
	}
	if status, msg := checkFraming(r); status != 0 {
		a.refuse(status, textPlain, []byte(msg+"\n"))
		return
	}
	c.SetReadDeadline(time.Time{})
	s.handshake(s.integrationCtx, r, a)
}

// bytesCutLine returns the first line of head (without its line end) and
// the rest, as strings sharing one copy of head.
func bytesCutLine(head []byte) (line, rest string) {
	line, rest, _ = strings.Cut(string(head), "\n")
	return strings.TrimSuffix(line, "\r"), rest
}

// checkFraming rejects what net/http would reject in a head read here:
// a missing or repeated Host, and a body on the upgrade request (the
// bytes after the head are WebSocket frames).
func checkFraming(r *request) (status int, msg string) {
	hosts := 0
	for _, h := range r.headers {
		switch {
		case equalFold(h.Name, "Host"):
			hosts++
			r.host = h.Value
		case equalFold(h.Name, "Transfer-Encoding"),
			equalFold(h.Name, "Content-Length") && h.Value != "0":
			return http.StatusBadRequest, "An upgrade request has no body"
		}
	}
	if hosts != 1 || r.host == "" {
		return http.StatusBadRequest, "Missing or repeated Host header"
	}
	return 0, ""
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func (s *Server) isStagePath(path string) bool {
	return path == s.stagePath || len(path) == len(s.stagePath)+1 && path[len(path)-1] == '/' && path[:len(s.stagePath)] == s.stagePath
}

// handOff gives c to net/http, replaying the bytes already read.
func (s *Server) handOff(c net.Conn, read []byte) {
	c.SetReadDeadline(time.Time{}) // net/http sets its own
	s.httpIn.give(withPrefix(c, read))
}

// addFresh and removeFresh track connections whose first request head is
// being read, so that Shutdown can close them; removeFresh reports false
// when Shutdown already has. addFresh also counts the caller in
// s.firsts (the caller calls Done) unless Shutdown has begun, so that no
// Add can follow Shutdown's Wait.
func (s *Server) addFresh(c net.Conn) bool {
	s.freshMu.Lock()
	defer s.freshMu.Unlock()
	if s.stopping.Load() {
		return false
	}
	s.fresh[c] = struct{}{}
	s.firsts.Add(1)
	return true
}

func (s *Server) removeFresh(c net.Conn) bool {
	s.freshMu.Lock()
	defer s.freshMu.Unlock()
	_, ok := s.fresh[c]
	delete(s.fresh, c)
	return ok
}

// rawAnswer answers a handshake read by serveFirst, on the socket. Its
// writes need no deadline: the connection has sent nothing yet, so its
// send buffer is empty and takes a short answer without blocking.
type rawAnswer struct {
	conn  net.Conn
	early []byte // bytes the client sent after the head
}

func (a *rawAnswer) refuse(status int, contentType string, body []byte, extra ...awsapi.Header) {
	b := make([]byte, 0, 256+len(body))
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\n"...)
	if contentType != "" {
		b = appendHeader(b, "Content-Type", contentType)
		b = appendHeader(b, "X-Content-Type-Options", "nosniff")
	}
	for _, h := range extra {
		b = appendHeader(b, h.Name, h.Value)
	}
	b = appendHeader(b, "Content-Length", strconv.Itoa(len(body)))
	b = appendHeader(b, "Connection", "close")
	b = append(b, "\r\n"...)
	b = append(b, body...)
	a.conn.Write(b) // see rawAnswer: no deadline needed
	a.conn.Close()
}

func (a *rawAnswer) accept(key, protocol string) (net.Conn, error) {
	b := make([]byte, 0, 160)
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"...)
	b = appendHeader(b, "Sec-WebSocket-Accept", acceptKey(key))
	if protocol != "" {
		b = appendHeader(b, "Sec-WebSocket-Protocol", protocol)
	}
	b = append(b, "\r\n"...)
	if _, err := a.conn.Write(b); err != nil {
		a.conn.Close()
		return nil, err
	}
	return withPrefix(a.conn, a.early), nil
}

func appendHeader(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// acceptKey is Sec-WebSocket-Accept for a client's Sec-WebSocket-Key
// (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// httpAnswer answers a handshake that net/http read.
type httpAnswer struct {
	w       http.ResponseWriter
	r       *http.Request
	timeout time.Duration
}

func (a *httpAnswer) refuse(status int, contentType string, body []byte, extra ...awsapi.Header) {
	h := a.w.Header()
	if contentType != "" {
		h.Set("Content-Type", contentType)
		h.Set("X-Content-Type-Options", "nosniff")
	}
	for _, e := range extra {
		h.Set(e.Name, e.Value)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	a.w.WriteHeader(status)
	a.w.Write(body)
}

func (a *httpAnswer) accept(_, protocol string) (net.Conn, error) {
	var header http.Header
	if protocol != "" {
		header = http.Header{"Sec-WebSocket-Protocol": {protocol}}
	}
	up := ws.HTTPUpgrader{Header: header, Timeout: a.timeout}
	conn, rw, _, err := up.Upgrade(a.r, a.w)
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, err
	}
	// Drop net/http's buffers, keeping any bytes the client sent early
	// (RFC 6455 forbids it, but a pipelined frame must not be lost).
	var early []byte
	if rw != nil && rw.Reader.Buffered() > 0 {
		b, _ := rw.Reader.Peek(rw.Reader.Buffered())
		early = append([]byte(nil), b...)
	}
	return withPrefix(conn, early), nil
}

// upgradeHTTP runs a handshake net/http has read: a later request on a
// kept-alive connection, or a head too long for serveFirst.
func (s *Server) upgradeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handshake(r.Context(), requestFromHTTP(r), &httpAnswer{w: w, r: r, timeout: s.opts.WriteTimeout})
}
