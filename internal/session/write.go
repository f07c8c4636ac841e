package session

import (
	"errors"
	"net"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

var (
	// ErrClosed is returned by Send once the connection is closing.
	ErrClosed = errors.New("session: connection closed")
	// ErrQueueFull is returned by Send when the client is not reading fast
	// enough for the message to fit in its send queue.
	ErrQueueFull = errors.New("session: send queue full")
)

// Send queues one message: a text frame when payload is valid UTF-8 and
// binary is false, otherwise a binary frame; messages larger than
// MaxFrameBytes are fragmented. It never blocks on the network.
func (c *Conn) Send(payload []byte, binary bool) error {
	op := ws.OpText
	if binary || !utf8.Valid(payload) {
		op = ws.OpBinary
	}
	frames := encodeMessage(op, payload, c.opts.MaxFrameBytes)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent || c.sockClosed || c.readerDone {
		return ErrClosed
	}
	if c.opts.SendQueueBytes > 0 && c.queued+len(frames) > c.opts.SendQueueBytes {
		if c.opts.Stats != nil {
			c.opts.Stats.QueueRejected.Add(1)
		}
		return ErrQueueFull
	}
	c.enqueueLocked(frames)
	c.touch()
	return nil
}

// SendOrClose is Send for messages the gateway itself owes the client
// (route responses, error frames): if the queue is full the client is
// too slow to keep, and the connection is closed with 1008.
func (c *Conn) SendOrClose(payload []byte) {
	if err := c.Send(payload, false); errors.Is(err, ErrQueueFull) {
		if c.opts.Stats != nil {
			c.opts.Stats.SlowClosed.Add(1)
		}
		c.Close(CodeSlowClient, ReasonSlowClient)
	}
}

// sendControl queues a control frame (pong).
func (c *Conn) sendControl(op ws.OpCode, payload []byte) {
	frame := encodeFrame(nil, op, true, payload)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent || c.sockClosed {
		return
	}
	if c.opts.SendQueueBytes > 0 && c.queued+len(frame) > c.opts.SendQueueBytes {
		if c.opts.Stats != nil {
			c.opts.Stats.SlowClosed.Add(1)
		}
		c.startCloseLocked(CodeSlowClient, ReasonSlowClient)
		return
	}
	c.enqueueLocked(frame)
}

func (c *Conn) enqueueLocked(frame []byte) {
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	if !c.writing {
		c.writing = true
		go c.writeLoop()
	}
}

// writeLoop writes queued frames, several per system call, until the
// queue is empty, then exits: an idle connection has no writer goroutine.
func (c *Conn) writeLoop() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.sockClosed {
			c.writing = false
			if c.readerDone {
				c.closeSocketLocked()
			}
			c.mu.Unlock()
			return
		}
		batch := c.queue
		c.queue = nil
		c.mu.Unlock()

		n := 0
		for _, f := range batch {
			n += len(f)
		}
		c.conn.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
		bufs := net.Buffers(batch)
		_, err := bufs.WriteTo(c.conn)

		c.mu.Lock()
		c.queued -= n
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if c.opts.Stats != nil {
					c.opts.Stats.SlowClosed.Add(1)
				}
				c.abortLocked(CodeSlowClient, ReasonSlowClient)
			} else {
				c.abortLocked(CodeAbnormal, ReasonAbnormal)
			}
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

// encodeMessage encodes payload as one frame, or as a text/binary frame
// and continuation frames of at most maxFrame bytes each.
func encodeMessage(op ws.OpCode, payload []byte, maxFrame int) []byte {
	if maxFrame <= 0 || len(payload) <= maxFrame {
		return encodeFrame(nil, op, true, payload)
	}
	out := make([]byte, 0, len(payload)+(len(payload)/maxFrame+1)*ws.MaxHeaderSize)
	for len(payload) > 0 {
		n := min(len(payload), maxFrame)
		out = encodeFrame(out, op, n == len(payload), payload[:n])
		payload = payload[n:]
		op = ws.OpContinuation
	}
	return out
}

// encodeFrame appends one unmasked server frame to dst.
func encodeFrame(dst []byte, op ws.OpCode, fin bool, payload []byte) []byte {
	if dst == nil {
		dst = make([]byte, 0, 10+len(payload))
	}
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	switch n := len(payload); {
	case n <= 125:
		dst = append(dst, b0, byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, payload...)
}
