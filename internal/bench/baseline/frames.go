package baseline

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"time"

	"github.com/gobwas/ws"
)

// upgrade completes the server side of the handshake within 10 s.
func upgrade(c net.Conn) bool {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := ws.Upgrade(c); err != nil {
		c.Close()
		return false
	}
	c.SetDeadline(time.Time{})
	return true
}

// reader reads client messages: one buffered reader and one payload
// buffer per connection.
type reader struct {
	r   *bufio.Reader
	buf []byte
}

func newReader(c net.Conn) *reader { return &reader{r: bufio.NewReaderSize(c, 4096)} }

// next returns the next data message (valid until the next call). A close
// frame, or a control frame the bare servers do not answer, ends the
// connection with io.EOF.
func (r *reader) next() ([]byte, ws.OpCode, error) {
	msg := r.buf[:0]
	var op ws.OpCode
	for {
		h, err := ws.ReadHeader(r.r)
		if err != nil {
			return nil, 0, err
		}
		if h.Length > 64<<20 {
			return nil, 0, errors.New("frame too large")
		}
		start := len(msg)
		msg = slices.Grow(msg, int(h.Length))[:start+int(h.Length)]
		if _, err := io.ReadFull(r.r, msg[start:]); err != nil {
			return nil, 0, err
		}
		if h.Masked {
			ws.Cipher(msg[start:], h.Mask, 0)
		}
		switch {
		case h.OpCode == ws.OpClose:
			return nil, 0, io.EOF
		case h.OpCode.IsControl():
			msg = msg[:start]
			continue
		case h.OpCode != ws.OpContinuation:
			op = h.OpCode
		}
		if h.Fin {
			r.buf = msg
			return msg, op, nil
		}
	}
}

// appendFrame appends an unmasked final frame (server to client).
func appendFrame(dst []byte, op ws.OpCode, p []byte) []byte {
	dst = append(dst, 0x80|byte(op))
	switch n := len(p); {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, p...)
}

func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }
