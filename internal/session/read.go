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

// Serve runs the connection until it closes, then calls HandleClose.
// It is the connection's reader; run it on its own goroutine.
func (c *Conn) Serve() {
	c.readLoop()
	c.finish()
}

func (c *Conn) readLoop() {
	var hbuf [14]byte // the largest frame header; lives on this stack
	var msg []byte    // the message being reassembled, if fragmented
	var msgOp ws.OpCode
	inMessage := false

	for {
		closing := c.armReadDeadline()
		h, started, err := readHeader(c.conn, hbuf[:])
		if err != nil {
			if !closing && !started && isTimeout(err) {
				if c.checkTimers() {
					continue
				}
				c.Close(CodeGoingAway, ReasonGoingAway)
				continue // wait for the client's close frame
			}
			if !closing && started && isTimeout(err) {
				c.Close(CodeGoingAway, ReasonGoingAway) // stalled mid-frame: stream is out of step
			}
			return
		}
		if closing {
			// Our close frame is out: skip everything until the answer.
			if h.op == ws.OpClose {
				return
			}
			if _, err := io.CopyN(io.Discard, c.conn, h.length); err != nil {
				return
			}
			continue
		}
		if h.rsv != 0 || !h.masked || h.op > ws.OpPong || (h.op > ws.OpBinary && h.op < ws.OpClose) {
			c.violation(CodeProtocolError, ReasonProtocolError)
			continue
		}
		if h.op.IsControl() {
			if h.length > 125 || !h.fin {
				c.violation(CodeProtocolError, ReasonProtocolError)
				continue
			}
			var pbuf [125]byte
			p := pbuf[:h.length]
			if _, err := io.ReadFull(c.conn, p); err != nil {
				return
			}
			ws.Cipher(p, h.mask, 0)
			switch h.op {
			case ws.OpPing:
				c.sendControl(ws.OpPong, p)
			case ws.OpClose:
				c.clientClose(p)
				return
			}
			continue
		}

		switch {
		case h.op == ws.OpContinuation && !inMessage:
			c.violation(CodeProtocolError, ReasonProtocolError)
			continue
		case h.op != ws.OpContinuation && inMessage:
			c.violation(CodeProtocolError, ReasonProtocolError)
			continue
		case h.op == ws.OpBinary && !c.opts.AllowBinary:
			c.violation(CodeUnsupported, ReasonUnsupported)
			continue
		case h.length > int64(c.opts.MaxFrameBytes):
			c.violation(CodeTooBig, ReasonFrameTooBig)
			continue
		case int64(len(msg))+h.length > int64(c.opts.MaxMessageBytes):
			c.violation(CodeTooBig, ReasonMessageTooBig)
			continue
		}
		if h.op != ws.OpContinuation {
			msgOp, inMessage = h.op, true
		}
		start := len(msg)
		msg = append(msg, make([]byte, h.length)...)
		if _, err := io.ReadFull(c.conn, msg[start:]); err != nil {
			if isTimeout(err) {
				c.Close(CodeGoingAway, ReasonGoingAway)
			}
			return
		}
		ws.Cipher(msg[start:], h.mask, 0)
		if !h.fin {
			continue
		}
		if msgOp == ws.OpText && !utf8.Valid(msg) {
			c.violation(CodeInvalidData, ReasonInvalidData)
			continue
		}
		c.touch()
		c.handler.HandleMessage(c, msg, msgOp == ws.OpBinary)
		msg, inMessage = nil, false
	}
}

// violation closes the connection for something the client sent.
func (c *Conn) violation(code int, reason string) {
	if c.opts.Stats != nil {
		c.opts.Stats.ProtocolClosed.Add(1)
	}
	c.Close(code, reason)
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

func (c *Conn) timerDeadline() time.Time {
	d := time.UnixMilli(c.ConnectedAt).Add(c.opts.MaxDuration)
	if idle := time.UnixMilli(c.lastActive.Load()).Add(c.opts.IdleTimeout); idle.Before(d) {
		d = idle
	}
	return d
}

// checkTimers reports whether the connection may go on after its read
// deadline passed (activity moved the idle deadline on).
func (c *Conn) checkTimers() bool {
	return time.Now().Before(c.timerDeadline())
}

// readHeader reads a frame header into buf (14 bytes). started reports
// whether any byte of it arrived, so an idle timeout can be told from a
// client that stalls in the middle of a frame.
func readHeader(r io.Reader, buf []byte) (h frameHeader, started bool, err error) {
	n, err := io.ReadFull(r, buf[:2])
	if err != nil {
		return h, n > 0, err
	}
	h.fin = buf[0]&0x80 != 0
	h.rsv = (buf[0] >> 4) & 0x07
	h.op = ws.OpCode(buf[0] & 0x0f)
	h.masked = buf[1]&0x80 != 0
	extra := 0
	switch l := buf[1] & 0x7f; l {
	case 126:
		extra = 2
	case 127:
		extra = 8
	default:
		h.length = int64(l)
	}
	if h.masked {
		extra += 4
	}
	if extra == 0 {
		return h, true, nil
	}
	ext := buf[2 : 2+extra]
	if _, err := io.ReadFull(r, ext); err != nil {
		return h, true, err
	}
	switch buf[1] & 0x7f {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(ext))
		ext = ext[2:]
	case 127:
		u := binary.BigEndian.Uint64(ext)
		if u > 1<<62 {
			u = 1 << 62 // larger than any limit; rejected by the caller
		}
		h.length = int64(u)
		ext = ext[8:]
	}
	if h.masked {
		copy(h.mask[:], ext)
	}
	return h, true, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
