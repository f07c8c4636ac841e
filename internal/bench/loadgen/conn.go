package loadgen

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"time"

	"github.com/gobwas/ws"
)

// Dialer opens client connections, rotating the source address over
// 127.0.0.1 … 127.0.0.Sources so that tens of thousands of connections to
// one server port do not run out of ephemeral ports.
type Dialer struct {
	// Sources is how many loopback source addresses to rotate over (1–8 here).
	Sources int
	// Timeout bounds one dial and handshake. Default 10 s.
	Timeout time.Duration
}

// sourceAddr returns the source address of the i-th connection.
func (d *Dialer) sourceAddr(i int) *net.TCPAddr {
	n := max(d.Sources, 1)
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%n))}
}

// DialRaw opens the i-th connection to url and completes the WebSocket
// handshake, returning the bare net.Conn: no buffer, no goroutine (the
// idle workload keeps only this).
func (d *Dialer) DialRaw(ctx context.Context, url string, i int) (net.Conn, error) {
	c, br, err := d.dial(ctx, url, i)
	if br != nil {
		ws.PutReader(br)
	}
	return c, err
}

// Dial opens the i-th connection to url for an active workload.
func (d *Dialer) Dial(ctx context.Context, url string, i int) (*Conn, error) {
	c, br, err := d.dial(ctx, url, i)
	if err != nil {
		return nil, err
	}
	if br == nil {
		br = bufio.NewReaderSize(c, 4096)
	}
	return &Conn{Conn: c, r: br}, nil
}

func (d *Dialer) dial(ctx context.Context, url string, i int) (net.Conn, *bufio.Reader, error) {
	timeout := d.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	nd := &net.Dialer{LocalAddr: d.sourceAddr(i), Timeout: timeout, Control: bindNoPort}
	wd := ws.Dialer{Timeout: timeout, NetDial: nd.DialContext}
	c, br, _, err := wd.Dial(ctx, url)
	if err != nil {
		return nil, nil, fmt.Errorf("dial %s from %s: %w", url, nd.LocalAddr, err)
	}
	return c, br, nil
}

// Conn is an active client connection: one goroutine may read it
// (ReadMessage) while one other writes it (WriteText, Close).
type Conn struct {
	net.Conn
	r    *bufio.Reader
	wbuf []byte
	rbuf []byte
}

// CloseError is a close frame received from the server.
type CloseError struct {
	Code   ws.StatusCode
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("server closed the connection: %d %q", e.Code, e.Reason)
}

// WriteText writes p as one masked text frame in one write.
func (c *Conn) WriteText(p []byte) error {
	c.wbuf = appendClientFrame(c.wbuf[:0], ws.OpText, p)
	_, err := c.Conn.Write(c.wbuf)
	return err
}

// appendClientFrame appends a final, masked frame.
func appendClientFrame(dst []byte, op ws.OpCode, p []byte) []byte {
	dst = append(dst, 0x80|byte(op))
	switch n := len(p); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, p...)
	ws.Cipher(dst[start:], mask, 0)
	return dst
}

// ReadMessage returns the next data message (valid until the next call),
// reassembling fragments and skipping pings and pongs. A close frame is
// returned as *CloseError.
func (c *Conn) ReadMessage() ([]byte, error) {
	msg := c.rbuf[:0]
	for {
		h, err := ws.ReadHeader(c.r)
		if err != nil {
			return nil, err
		}
		if h.Length > 64<<20 {
			return nil, fmt.Errorf("frame of %d bytes", h.Length)
		}
		start := len(msg)
		msg = slices.Grow(msg, int(h.Length))[:start+int(h.Length)]
		if _, err := io.ReadFull(c.r, msg[start:]); err != nil {
			return nil, err
		}
		if h.Masked {
			ws.Cipher(msg[start:], h.Mask, 0)
		}
		switch {
		case h.OpCode == ws.OpClose:
			code, reason := ws.ParseCloseFrameData(msg[start:])
			return nil, &CloseError{Code: code, Reason: reason}
		case h.OpCode.IsControl():
			msg = msg[:start] // ping or pong: nothing to do
			continue
		}
		if h.Fin {
			c.rbuf = msg
			return msg, nil
		}
	}
}

// CloseNormally sends a close frame (1000), waits up to wait for the
// server's close frame or end of stream, and closes the socket.
func (c *Conn) CloseNormally(wait time.Duration) error {
	defer c.Conn.Close()
	c.wbuf = appendClientFrame(c.wbuf[:0], ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	if _, err := c.Conn.Write(c.wbuf); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(wait))
	for {
		_, err := c.ReadMessage()
		if err == nil {
			continue // a reply still on its way
		}
		if _, ok := err.(*CloseError); ok || err == io.EOF {
			return nil
		}
		return fmt.Errorf("closing: %w", err)
	}
}

// Abort closes the socket with a TCP reset (SO_LINGER 0), leaving no
// TIME_WAIT behind: the handshake and churn storms would otherwise run out
// of ephemeral ports.
func Abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
