package switchboardtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// Client is a WebSocket client with frame-level control, for testing
// well-behaved and misbehaving clients alike.
type Client struct {
	t        testing.TB
	Conn     net.Conn
	r        io.Reader
	Protocol string
}

// DialOptions customise the handshake.
type DialOptions struct {
	Header    http.Header
	Protocols []string
	TLS       *tls.Config // for wss:// URLs
}

// Dial connects to url; a refused handshake is returned as ws.StatusError.
func Dial(t testing.TB, url string, opts DialOptions) (*Client, error) {
	t.Helper()
	d := ws.Dialer{Protocols: opts.Protocols, Timeout: 10 * time.Second, TLSConfig: opts.TLS}
	if opts.Header != nil {
		d.Header = ws.HandshakeHeaderHTTP(opts.Header)
	}
	conn, br, hs, err := d.Dial(context.Background(), url)
	if err != nil {
		return nil, err
	}
	c := &Client{t: t, Conn: conn, r: conn, Protocol: hs.Protocol}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	t.Cleanup(func() { conn.Close() })
	return c, nil
}

// MustDial is Dial that fails the test on error.
func MustDial(t testing.TB, url string) *Client {
	t.Helper()
	c, err := Dial(t, url, DialOptions{})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return c
}

// SendText sends one text message.
func (c *Client) SendText(s string) { c.SendFrame(ws.OpText, true, []byte(s)) }

// SendFrame sends one masked frame.
func (c *Client) SendFrame(op ws.OpCode, fin bool, payload []byte) {
	c.t.Helper()
	f := ws.MaskFrame(ws.NewFrame(op, fin, append([]byte(nil), payload...)))
	c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := ws.WriteFrame(c.Conn, f); err != nil {
		c.t.Fatalf("send frame: %v", err)
	}
}

// SendRaw writes bytes as they are.
func (c *Client) SendRaw(b []byte) {
	c.t.Helper()
	if _, err := c.Conn.Write(b); err != nil {
		c.t.Fatalf("send raw: %v", err)
	}
}

// Message is one message or close frame received.
type Message struct {
	Op      ws.OpCode // OpText, OpBinary or OpClose
	Payload []byte
	Code    int // close code, OpClose only
	Reason  string
}

// Read returns the next message (fragments reassembled, pings answered),
// or the close frame.
func (c *Client) Read(timeout time.Duration) (Message, error) {
	c.Conn.SetReadDeadline(time.Now().Add(timeout))
	var msg Message
	for {
		f, err := c.readFrame()
		if err != nil {
			return msg, err
		}
		if f.Header.Masked {
			return msg, errors.New("server sent a masked frame")
		}
		switch f.Header.OpCode {
		case ws.OpPing:
			ws.WriteFrame(c.Conn, ws.MaskFrame(ws.NewPongFrame(f.Payload)))
			continue
		case ws.OpPong:
			msg.Op = ws.OpPong
			msg.Payload = f.Payload
			return msg, nil
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(f.Payload)
			return Message{Op: ws.OpClose, Code: int(code), Reason: reason}, nil
		case ws.OpText, ws.OpBinary:
			msg.Op = f.Header.OpCode
		}
		msg.Payload = append(msg.Payload, f.Payload...)
		if f.Header.Fin {
			return msg, nil
		}
	}
}

// maxTestFrame bounds what the test client reads in one frame.
const maxTestFrame = 16 << 20

func (c *Client) readFrame() (ws.Frame, error) {
	h, err := ws.ReadHeader(c.r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > maxTestFrame {
		return ws.Frame{}, fmt.Errorf("server sent a %d-byte frame", h.Length)
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(c.r, payload); err != nil {
		return ws.Frame{}, err
	}
	return ws.Frame{Header: h, Payload: payload}, nil
}

// ExpectText reads one message and checks it is the text want.
func (c *Client) ExpectText(want string) {
	c.t.Helper()
	m, err := c.Read(5 * time.Second)
	if err != nil {
		c.t.Fatalf("reading, want %q: %v", want, err)
	}
	if m.Op != ws.OpText || string(m.Payload) != want {
		c.t.Fatalf("got %v %q (close %d %q), want text %q", m.Op, m.Payload, m.Code, m.Reason, want)
	}
}

// ReadText reads one message and checks it is text.
func (c *Client) ReadText() string {
	c.t.Helper()
	m, err := c.Read(5 * time.Second)
	if err != nil {
		c.t.Fatalf("reading: %v", err)
	}
	if m.Op != ws.OpText {
		c.t.Fatalf("got %v (close %d %q), want a text message", m.Op, m.Code, m.Reason)
	}
	return string(m.Payload)
}

// ExpectClose reads until the close frame, checks its code, answers it and
// returns the reason; data messages before it are skipped.
func (c *Client) ExpectClose(code int) string {
	c.t.Helper()
	for {
		m, err := c.Read(10 * time.Second)
		if err != nil {
			c.t.Fatalf("want close %d: %v", code, err)
		}
		if m.Op != ws.OpClose {
			continue
		}
		if m.Code != code {
			c.t.Fatalf("close code %d %q, want %d", m.Code, m.Reason, code)
		}
		ws.WriteFrame(c.Conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), ""))))
		return m.Reason
	}
}

// ExpectNothing checks that no message arrives within d.
func (c *Client) ExpectNothing(d time.Duration) {
	c.t.Helper()
	m, err := c.Read(d)
	if err == nil {
		c.t.Fatalf("got %v %q, want nothing", m.Op, m.Payload)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("want a quiet open connection, got %v", err)
	}
}

// Close sends a close frame with code and reason and waits for the echo.
func (c *Client) Close(code int, reason string) error {
	f := ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), reason)))
	if err := ws.WriteFrame(c.Conn, f); err != nil {
		return err
	}
	for {
		m, err := c.Read(5 * time.Second)
		if err != nil {
			return err
		}
		if m.Op == ws.OpClose {
			if m.Code != code {
				return fmt.Errorf("server echoed close %d, want %d", m.Code, code)
			}
			return nil
		}
	}
}
