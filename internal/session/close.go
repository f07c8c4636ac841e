package session

import (
	"time"

	"github.com/gobwas/ws"
)

// Close codes Switchboard sends, and the reasons that go with them in
// close frames and $disconnect events.
const (
	CodeNormal        = 1000 // DeleteConnection
	CodeGoingAway     = 1001 // idle timeout, maximum duration, shutdown
	CodeProtocolError = 1002 // malformed frames
	CodeUnsupported   = 1003 // binary frame while binaryFrames is reject
	CodeNoStatus      = 1005 // the client's close frame had no code (never sent)
	CodeAbnormal      = 1006 // the TCP connection dropped without a close frame (never sent)
	CodeInvalidData   = 1007 // a text message that is not UTF-8
	CodeSlowClient    = 1008 // the client did not read its messages in time
	CodeTooBig        = 1009 // a frame or message over the limit
)

// Reasons paired with the codes above.
const (
	ReasonNormal        = "Connection Closed Normally"
	ReasonGoingAway     = "Going away"
	ReasonProtocolError = "Protocol error"
	ReasonUnsupported   = "Binary frames are not supported"
	ReasonNoStatus      = "Client-side close frame status not set"
	ReasonAbnormal      = "Connection closed abnormally"
	ReasonInvalidData   = "Invalid UTF-8 in text message"
	ReasonSlowClient    = "Slow client"
	ReasonFrameTooBig   = "Frame too big"
	ReasonMessageTooBig = "Message too big"
)

// Close starts the close handshake: code and reason are recorded (unless
// a close is already under way), a close frame is queued behind any
// pending messages, and the client has CloseGrace to answer before the
// TCP connection is dropped. It returns at once; HandleClose follows.
func (c *Conn) Close(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.startCloseLocked(code, reason)
}

func (c *Conn) startCloseLocked(code int, reason string) {
	if c.closeCode == 0 {
		c.closeCode, c.closeReason = code, reason
	}
	if c.closeSent || c.sockClosed {
		return
	}
	c.closeSent = true
	c.signalClosingLocked()
	body := ws.NewCloseFrameBody(ws.StatusCode(code), reason)
	if code == CodeNoStatus {
		body = nil // 1005 must not appear on the wire: echo an empty close
	}
	c.enqueueLocked(encodeFrame(nil, ws.OpClose, true, body))
	c.closeDeadline = time.Now().Add(c.opts.CloseGrace)
	if c.reg != nil { // the polled reader: limits run on its timer
		c.timer.Reset(c.opts.CloseGrace)
	} else {
		c.conn.SetReadDeadline(c.closeDeadline)
	}
}

// abortLocked drops the TCP connection without a close handshake,
// recording code and reason if nothing was recorded yet.
func (c *Conn) abortLocked(code int, reason string) {
	if c.closeCode == 0 {
		c.closeCode, c.closeReason = code, reason
	}
	c.queue, c.queued = nil, 0
	c.signalClosingLocked()
	c.closeSocketLocked()
	if c.reg != nil {
		// A closed socket raises no readiness event: end on the timer.
		c.closeDeadline = time.Now()
		c.timer.Reset(0)
	}
}

// finish runs when the reader stops: the socket is closed (after the
// writer drains, if it is running), and then the handler hears the end.
func (c *Conn) finish() {
	c.mu.Lock()
	c.readerDone = true
	if c.closeCode == 0 {
		c.closeCode, c.closeReason = CodeAbnormal, ReasonAbnormal
	}
	c.signalClosingLocked()
	if !c.writing {
		c.closeSocketLocked()
	}
	report := c.reportLocked()
	c.mu.Unlock()
	if report {
		c.reportEnd()
	}
}

// reportLocked reports whether the end is due now, once: the reader is
// done and the socket is closed. Whoever closes last (the reader's finish
// or the draining writer) delivers it, so $disconnect always follows the
// socket's close. c.mu must be held.
func (c *Conn) reportLocked() bool {
	if c.readerDone && c.sockClosed && !c.reported {
		c.reported = true
		return true
	}
	return false
}

func (c *Conn) reportEnd() {
	c.handler.HandleClose(c, c.closeCode, c.closeReason)
}

// signalClosingLocked wakes a reader waiting in Acquire. c.mu must be held.
func (c *Conn) signalClosingLocked() {
	if c.closing != nil {
		select {
		case <-c.closing:
		default:
			close(c.closing)
		}
	}
}
