package session

import (
	"errors"
	"net"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboardgw/switchboard/internal/netpoll"
)

var (
	// ErrClosed is returned by Send once the connection is closing.
	ErrClosed = errors.New("session: connection closed")
	// ErrQueueFull is returned by Send when the client is not reading fast
	// enough for the message to fit in its send queue now.
	ErrQueueFull = errors.New("session: send queue full")
	// ErrTooLarge is returned by Send for a message larger than the whole
	// send queue: it would never fit.
	ErrTooLarge = errors.New("session: message larger than the send queue")
)

// frameOverhead is charged to the send queue for each queued frame on top
// of its bytes (its slice header and allocation), so many tiny frames
// cannot hold far more memory than SendQueueBytes says.
const frameOverhead = 64

// Send queues one message, as a binary frame if binary, otherwise as a
// text frame (the caller guarantees valid UTF-8); messages larger than
// MaxFrameBytes are fragmented. An empty queue takes any message up to
// SendQueueBytes. It never blocks on the network.
func (c *Conn) Send(payload []byte, binary bool) error {
	if len(payload) > c.opts.SendQueueBytes {
		return ErrTooLarge
	}
	op := ws.OpText
	if binary {
		op = ws.OpBinary
	}
	frames := encodeMessage(op, payload, c.opts.MaxFrameBytes)
	c.mu.Lock()
	if c.closeSent || c.sockClosed || c.readerDone {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.queued > 0 && c.queued+len(frames)+frameOverhead > c.opts.SendQueueBytes {
		c.mu.Unlock()
		if c.opts.Stats != nil {
			c.opts.Stats.QueueRejected.Add(1)
		}
		return ErrQueueFull
	}
	c.touch()
	c.queue = append(c.queue, frames)
	c.queued += len(frames) + frameOverhead
	if !c.writing && !c.corked {
		c.flushLocked() // unlocks
		return nil
	}
	c.mu.Unlock()
	return nil
}

// cork holds replies back while the reader handles a buffer of messages,
// so that uncork sends them together.
func (c *Conn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

func (c *Conn) uncork() {
	c.mu.Lock()
	c.corked = false
	if !c.writing && len(c.queue) > 0 {
		c.flushLocked() // unlocks
		return
	}
	c.mu.Unlock()
}

// flushLocked takes the writer's role (none may be running) and offers the
// whole queue to the socket in one non-blocking gathering write, which
// usually takes it all; a writer goroutine starts only for what is left.
// It unlocks c.mu.
func (c *Conn) flushLocked() {
	c.writing = true
	if c.raw == nil || c.sockClosed {
		go c.writeLoop()
		c.mu.Unlock()
		return
	}
	batch := c.queue
	c.queue = nil
	c.mu.Unlock()
	n, err := netpoll.WriteNonblock(c.raw, batch)
	c.mu.Lock()
	if err != nil {
		c.abortLocked(CodeAbnormal, ReasonAbnormal)
		c.writerDoneLocked() // unlocks
		return
	}
	// Drop what was written; put the rest back in front of anything queued
	// meanwhile.
	var rest [][]byte
	for i, f := range batch {
		if n >= len(f) {
			n -= len(f)
			c.queued -= len(f) + frameOverhead
			continue
		}
		c.queued -= n
		rest = append(append(rest, f[n:]), batch[i+1:]...)
		break
	}
	if len(rest) > 0 {
		c.queue = append(rest, c.queue...)
	}
	if len(c.queue) > 0 {
		go c.writeLoop() // keeps the writer's role
		c.mu.Unlock()
		return
	}
	c.writerDoneLocked() // unlocks
}

// writerDoneLocked gives up the writer's role: the socket is closed if the
// reader is done, and the end is reported if due. It unlocks c.mu.
func (c *Conn) writerDoneLocked() {
	c.writing = false
	if c.readerDone {
		c.closeSocketLocked()
	}
	report := c.reportLocked()
	c.mu.Unlock()
	if report {
		c.reportEnd()
	}
}

// SendOrClose sends a text message the gateway itself owes the client
// (route responses, error frames): if the queue is full the client is too
// slow to keep, and the connection is closed with 1008.
func (c *Conn) SendOrClose(payload []byte, binary bool) {
	if err := c.Send(payload, binary); errors.Is(err, ErrQueueFull) {
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
	if c.queued+len(frame)+frameOverhead > c.opts.SendQueueBytes {
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
	c.queued += len(frame) + frameOverhead
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
			// The next writer may be a non-blocking flush, which must not
			// meet this loop's expired deadline.
			c.conn.SetWriteDeadline(time.Time{})
			c.writerDoneLocked()
			return
		}
		batch := c.queue
		c.queue = nil
		c.mu.Unlock()

		n := 0
		for _, f := range batch {
			n += len(f) + frameOverhead
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
			c.writerDoneLocked()
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
