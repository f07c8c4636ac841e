package session

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// frameHeader is one parsed frame header (RFC 6455 §5.2).
type frameHeader struct {
	fin    bool
	rsv    byte
	op     ws.OpCode
	masked bool
	length int64
	mask   [4]byte
}

// frameAction is what a reader does with a frame's payload.
type frameAction uint8

const (
	readPayload frameAction = iota // read it into the slice onHeader returned
	skipPayload                    // discard it
	stopReading                    // the close handshake is done: read no more
)

// readState is a message being reassembled, shared by both readers.
type readState struct {
	msg       []byte
	msgOp     ws.OpCode
	inMessage bool
	ctrl      [125]byte // a control frame's payload
}

// onHeader decides what to do with a frame, given its header, and returns
// where its payload goes. Violations start the close handshake and skip
// the payload, so the stream stays in step while the client answers.
func (c *Conn) onHeader(st *readState, h frameHeader) (frameAction, []byte) {
	c.mu.Lock()
	closing := c.closeSent || c.sockClosed
	c.mu.Unlock()
	if closing {
		if h.op == ws.OpClose {
			return stopReading, nil // the answer to our close frame
		}
		return skipPayload, nil
	}
	if h.rsv != 0 || !h.masked || h.op > ws.OpPong || (h.op > ws.OpBinary && h.op < ws.OpClose) {
		return c.violation(CodeProtocolError, ReasonProtocolError)
	}
	if h.op.IsControl() {
		if h.length > 125 || !h.fin {
			return c.violation(CodeProtocolError, ReasonProtocolError)
		}
		return readPayload, st.ctrl[:h.length]
	}
	switch {
	case h.op == ws.OpContinuation && !st.inMessage, h.op != ws.OpContinuation && st.inMessage:
		return c.violation(CodeProtocolError, ReasonProtocolError)
	case h.op == ws.OpBinary && !c.opts.AllowBinary:
		return c.violation(CodeUnsupported, ReasonUnsupported)
	case h.length > int64(c.opts.MaxFrameBytes):
		return c.violation(CodeTooBig, ReasonFrameTooBig)
	case int64(len(st.msg))+h.length > int64(c.opts.MaxMessageBytes):
		return c.violation(CodeTooBig, ReasonMessageTooBig)
	}
	if h.op != ws.OpContinuation {
		st.msgOp, st.inMessage = h.op, true
	}
	start := len(st.msg)
	st.msg = append(st.msg, make([]byte, h.length)...)
	return readPayload, st.msg[start:]
}

// onPayload acts on a frame whose payload p has been read; false stops
// reading (the client closed).
func (c *Conn) onPayload(st *readState, h frameHeader, p []byte) bool {
	ws.Cipher(p, h.mask, 0)
	switch h.op {
	case ws.OpPing:
		c.sendControl(ws.OpPong, p)
		return true
	case ws.OpPong:
		return true
	case ws.OpClose:
		c.clientClose(p)
		return false
	}
	if !h.fin {
		return true
	}
	msg, binary := st.msg, st.msgOp == ws.OpBinary
	st.msg, st.inMessage = nil, false
	if !binary && !utf8.Valid(msg) {
		c.violation(CodeInvalidData, ReasonInvalidData)
		return true
	}
	c.mu.Lock()
	closing := c.closeSent || c.sockClosed
	c.mu.Unlock()
	if closing {
		return true // no message after our close frame: $disconnect may be on its way
	}
	c.touch()
	c.handler.HandleMessage(c, msg, binary)
	return true
}

// violation closes the connection for something the client sent.
func (c *Conn) violation(code int, reason string) (frameAction, []byte) {
	if c.opts.Stats != nil {
		c.opts.Stats.ProtocolClosed.Add(1)
	}
	c.Close(code, reason)
	return skipPayload, nil
}

// clientClose answers the client's close frame, echoing its code, and
// records the code and reason for $disconnect.
func (c *Conn) clientClose(p []byte) {
	code, reason := CodeNoStatus, ReasonNoStatus
	switch {
	case len(p) == 1:
		code, reason = CodeProtocolError, ReasonProtocolError
	case len(p) >= 2:
		sc, r := ws.ParseCloseFrameData(p)
		code, reason = int(sc), r
		if !validCloseCode(code) {
			code, reason = CodeProtocolError, ReasonProtocolError
		} else if !utf8.ValidString(r) {
			code, reason = CodeInvalidData, ReasonInvalidData
		}
	}
	c.Close(code, reason)
}

// validCloseCode reports whether a client may send code (RFC 6455 §7.4).
func validCloseCode(code int) bool {
	switch {
	case code >= 3000 && code <= 4999:
		return true
	case code >= 1000 && code <= 1014:
		return code != 1004 && code != CodeNoStatus && code != CodeAbnormal
	}
	return false
}

// Serve runs the connection with a goroutine of its own (the portable
// reader) until it closes, then calls HandleClose.
func (c *Conn) Serve() {
	c.readLoop()
	c.finish()
}

func (c *Conn) readLoop() {
	var hbuf [14]byte // the largest frame header; lives on this stack
	var st readState
	for {
		closing := c.armReadDeadline()
		h, started, err := readHeader(c.conn, hbuf[:])
		if err != nil {
			if !closing && isTimeout(err) {
				if !started {
					if c.timerDeadline().After(time.Now()) {
						continue // activity moved the idle deadline on
					}
					c.Close(CodeGoingAway, ReasonGoingAway) // idle or too old
					continue                                // wait for the client's close frame
				}
				c.Close(CodeGoingAway, ReasonGoingAway) // stalled mid-frame: out of step
			}
			return
		}
		act, dst := c.onHeader(&st, h)
		switch act {
		case stopReading:
			return
		case skipPayload:
			if _, err := io.CopyN(io.Discard, c.conn, h.length); err != nil {
				return
			}
			continue
		}
		if _, err := io.ReadFull(c.conn, dst); err != nil {
			if !closing && isTimeout(err) {
				c.Close(CodeGoingAway, ReasonGoingAway)
			}
			return
		}
		if !c.onPayload(&st, h, dst) {
			return
		}
	}
}

// armReadDeadline sets the read deadline to the nearest of the idle and
// maximum-age limits, or to the close deadline once closing; it reports
// whether the connection is closing.
func (c *Conn) armReadDeadline() (closing bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent || c.sockClosed {
		c.conn.SetReadDeadline(c.closeDeadline)
		return true
	}
	c.conn.SetReadDeadline(c.timerDeadline())
	return false
}

// timerDeadline is when the idle or maximum-age limit next expires.
func (c *Conn) timerDeadline() time.Time {
	d := time.UnixMilli(c.ConnectedAt).Add(c.opts.MaxDuration)
	if idle := time.UnixMilli(c.lastActive.Load()).Add(c.opts.IdleTimeout); idle.Before(d) {
		d = idle
	}
	return d
}

// headerLen returns the full length of a frame header from its first two
// bytes.
func headerLen(b0, b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// parseHeader parses a complete header (headerLen bytes).
func parseHeader(b []byte) frameHeader {
	h := frameHeader{
		fin:    b[0]&0x80 != 0,
		rsv:    (b[0] >> 4) & 0x07,
		op:     ws.OpCode(b[0] & 0x0f),
		masked: b[1]&0x80 != 0,
	}
	ext := b[2:]
	switch l := b[1] & 0x7f; l {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(ext))
		ext = ext[2:]
	case 127:
		u := binary.BigEndian.Uint64(ext)
		if u > 1<<62 {
			u = 1 << 62 // larger than any limit; refused by onHeader
		}
		h.length = int64(u)
		ext = ext[8:]
	default:
		h.length = int64(l)
	}
	if h.masked {
		copy(h.mask[:], ext)
	}
	return h
}

// readHeader reads a frame header into buf (14 bytes). started reports
// whether any byte of it arrived, so an idle timeout can be told from a
// client that stalls in the middle of a frame.
func readHeader(r io.Reader, buf []byte) (h frameHeader, started bool, err error) {
	n, err := io.ReadFull(r, buf[:2])
	if err != nil {
		return h, n > 0, err
	}
	total := headerLen(buf[0], buf[1])
	if _, err := io.ReadFull(r, buf[2:total]); err != nil {
		return h, true, err
	}
	return parseHeader(buf[:total]), true, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
