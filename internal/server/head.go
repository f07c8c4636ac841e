package server

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/switchboardgw/switchboard/internal/awsapi"
)

// A connection's first request head is read here, not by net/http: an
// upgrade to the stage path (nearly every first request) is answered
// straight on the socket, with the header names spelled as the client
// sent them, as API Gateway hands them to $connect (Sec-WebSocket-Key,
// x-api-key; net/http would canonicalize them). Anything else, and heads
// too long for the buffer below, go on to net/http with the bytes read so
// far replayed.

// headBufSize bounds the request head read here; a longer head goes to
// net/http, which applies stage.limits.maxHeaderBytes. The buffer is
// pooled and held only while a head is being read.
const headBufSize = 8 << 10

var headReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, headBufSize) }}

// request is what a handshake needs of an upgrade request.
type request struct {
	method   string
	path     string // escaped, as sent
	rawQuery string
	target   string // path and query, as sent
	http11   bool   // HTTP/1.1 or later
	host     string
	body     bool            // a body follows; only when net/http read it (checkFraming refuses one on the socket)
	headers  []awsapi.Header // arrival order; the client's spelling when read here
	// remoteAddr and localAddr are host:port.
	remoteAddr, localAddr string
	orig                  *http.Request // when net/http read it
}

// values returns every value of the named header (any case), in order.
func (r *request) values(name string) []string {
	var vs []string
	for _, h := range r.headers {
		if strings.EqualFold(h.Name, name) {
			vs = append(vs, h.Value)
		}
	}
	return vs
}

// httpRequest returns r as an *http.Request, for SigV4 verification.
func (r *request) httpRequest() *http.Request {
	if r.orig != nil {
		return r.orig
	}
	h := make(http.Header, len(r.headers))
	for _, kv := range r.headers {
		if !strings.EqualFold(kv.Name, "Host") {
			h.Add(kv.Name, kv.Value)
		}
	}
	u, err := url.ParseRequestURI(r.target)
	if err != nil {
		u = &url.URL{Path: r.path, RawQuery: r.rawQuery}
	}
	return &http.Request{Method: r.method, URL: u, RequestURI: r.target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Host: r.host, RemoteAddr: r.remoteAddr}
}

// header returns the first value of the named header (any case).
func (r *request) header(name string) string {
	for _, h := range r.headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// hasToken reports whether a comma-separated header named name lists
// token (any case), in any of its lines.
func (r *request) hasToken(name, token string) bool {
	for _, h := range r.headers {
		if !strings.EqualFold(h.Name, name) {
			continue
		}
		for t := range strings.SplitSeq(h.Value, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// requestFromHTTP adapts a request net/http has parsed (a later request
// on a kept-alive connection, or a long head): header names come in Go's
// canonical spelling, in no particular order.
func requestFromHTTP(r *http.Request) *request {
	hs := make([]awsapi.Header, 0, len(r.Header)+1)
	hs = append(hs, awsapi.Header{Name: "Host", Value: r.Host})
	for name, vals := range r.Header {
		for _, v := range vals {
			hs = append(hs, awsapi.Header{Name: name, Value: v})
		}
	}
	local := ""
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		local = a.String()
	}
	return &request{
		method: r.Method, path: r.URL.EscapedPath(), rawQuery: r.URL.RawQuery, target: r.RequestURI, orig: r,
		http11: r.ProtoAtLeast(1, 1), host: r.Host, body: r.ContentLength != 0, headers: hs,
		remoteAddr: r.RemoteAddr, localAddr: local,
	}
}

// peekHead waits until br holds a whole request head and returns its
// length, without consuming it. It returns 0 when the head does not fit
// in br's buffer.
func peekHead(br *bufio.Reader) (int, error) {
	from := 0
	for {
		buf, err := br.Peek(br.Buffered())
		if err != nil {
			return 0, err
		}
		if n := headEnd(buf, from); n > 0 {
			return n, nil
		}
		if len(buf) == br.Size() {
			return 0, nil
		}
		from = max(0, len(buf)-3) // an end split across reads is found next time
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return 0, err
		}
	}
}

// headEnd returns the length of the head in b up to and including the
// empty line that ends it, or 0. Lines end with CRLF or a bare LF, as
// net/http accepts.
func headEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
	}
	return 0
}

// parseRequestLine splits "GET /dev?x=1 HTTP/1.1". It reports false for
// anything that is not an origin-form target over HTTP/1.x.
func parseRequestLine(line string) (method, target string, http11, ok bool) {
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || method == "" || !strings.HasPrefix(target, "/") {
		return "", "", false, false
	}
	switch proto {
	case "HTTP/1.1":
		http11 = true
	case "HTTP/1.0":
	default:
		return "", "", false, false
	}
	return method, target, http11, true
}

// parseHeaderLines reads "Name: value" lines up to the empty line. It
// rejects what RFC 9112 says a server must reject or may: a name that is
// not a token (whitespace before the colon included), folded lines, and
// control characters in a value.
func parseHeaderLines(text string) ([]awsapi.Header, bool) {
	hs := make([]awsapi.Header, 0, 16)
	for text != "" {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) || !isFieldValue(value) {
			return nil, false
		}
		hs = append(hs, awsapi.Header{Name: name, Value: strings.Trim(value, " \t")})
	}
	return hs, true
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || !tokenChars[c] {
			return false
		}
	}
	return true
}

// isFieldValue reports whether s holds no control character but HTAB
// (RFC 9110 field-value).
func isFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

var tokenChars = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// handoffListener hands connections whose first request is not an
// upgrade to net/http.
type handoffListener struct {
	addr   net.Addr
	conns  chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

// give passes c to net/http, or closes it once the listener is closed.
func (l *handoffListener) give(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

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

// withPrefix returns c, replaying prefix first when there is one.
func withPrefix(c net.Conn, prefix []byte) net.Conn {
	if len(prefix) == 0 {
		return c
	}
	return &prefixConn{Conn: c, prefix: prefix}
}
