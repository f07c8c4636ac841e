package server

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/switchboardgw/switchboard/internal/awsapi"
)

// maxHeadBytes bounds a request head (request line and headers); it is
// also the http.Server's MaxHeaderBytes.
const maxHeadBytes = 32 << 10

// headListener wraps accepted connections in headConn.
type headListener struct{ net.Listener }

func (l headListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	hc := &headConn{Conn: c}
	hc.recording.Store(true)
	return hc, nil
}

// headConn records the raw bytes of the first request head read from a
// connection. net/http canonicalizes header names (Sec-Websocket-Key);
// API Gateway hands the $connect integration the client's own spelling
// (Sec-WebSocket-Key, x-api-key), and handlers index headers by it. Every
// request takes the record (take), so a later request on a kept-alive
// connection never sees an earlier one's head.
type headConn struct {
	net.Conn
	recording atomic.Bool
	mu        sync.Mutex // guards head: net/http may read ahead while a handler runs
	head      []byte
}

func (c *headConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.recording.Load() {
		c.mu.Lock()
		if c.recording.Load() {
			c.head = append(c.head, p[:n]...)
			if i := bytes.Index(c.head, []byte("\r\n\r\n")); i >= 0 {
				c.head = c.head[:i+2]
				c.recording.Store(false)
			} else if i := bytes.Index(c.head, []byte("\n\n")); i >= 0 {
				c.head = c.head[:i+1] // bare LF line ends, which net/http accepts
				c.recording.Store(false)
			} else if len(c.head) > maxHeadBytes {
				c.head = nil
				c.recording.Store(false)
			}
		}
		c.mu.Unlock()
	}
	return n, err
}

// take returns the recorded head, if any, and stops recording for good.
func (c *headConn) take() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recording.Store(false)
	h := c.head
	c.head = nil
	return h
}

type headConnKey struct{}

func withHeadConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, headConnKey{}, c)
}

// requestHeaders returns the request's headers in arrival order with the
// client's spelling when the raw head is at hand (the first request on a
// connection), else with Go's canonical names. The raw head is released.
func requestHeaders(r *http.Request) []awsapi.Header {
	if hc, ok := r.Context().Value(headConnKey{}).(*headConn); ok {
		if raw := hc.take(); raw != nil {
			if hs, ok := parseHead(string(raw), r); ok {
				return hs
			}
		}
	}
	hs := []awsapi.Header{{Name: "Host", Value: r.Host}}
	for name, vals := range r.Header {
		for _, v := range vals {
			hs = append(hs, awsapi.Header{Name: name, Value: v})
		}
	}
	return hs
}

// releaseHead drops the recorded head of a request that is not an upgrade.
func releaseHead(r *http.Request) {
	if hc, ok := r.Context().Value(headConnKey{}).(*headConn); ok {
		hc.take()
	}
}

// parseHead reads header lines from a raw request head. It checks that the
// head belongs to r (same request line target) before trusting it.
func parseHead(raw string, r *http.Request) ([]awsapi.Header, bool) {
	raw = strings.ReplaceAll(raw, "\r\n", "\n")
	line, rest, ok := strings.Cut(raw, "\n")
	if !ok || !strings.HasPrefix(line, r.Method+" "+r.RequestURI+" ") {
		return nil, false
	}
	var hs []awsapi.Header
	for rest != "" {
		line, rest, _ = strings.Cut(rest, "\n")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, false
		}
		hs = append(hs, awsapi.Header{Name: name, Value: strings.Trim(value, " \t")})
	}
	return hs, true
}
