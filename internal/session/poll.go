package session

import (
	"sync"
	"time"

	"github.com/switchboardgw/switchboard/internal/netpoll"
)

// The readiness-driven reader. While a connection is idle it has no
// goroutine and no buffer: the poller starts onReadable when bytes arrive;
// onReadable reads with a pooled buffer until the socket is empty, keeps
// the state of a partly received frame only while there is one, and
// re-arms. The idle and maximum-age limits and the close grace run on a
// timer instead of a read deadline.

// readBufSize is the pooled buffer one readiness event reads into.
const readBufSize = 16 << 10

// linger is how long a reader waits for the next bytes, in a plain read
// through Go's poller, before handing the connection back to epoll. A
// busy connection (request, reply, request) then stays on one goroutine
// instead of paying a wake-up, a goroutine and an epoll_ctl per message;
// a quiet one holds nothing after this long. Only connections whose
// previous bytes came less than linger ago linger at all: waiting on one
// whose messages are further apart would cost more than it saves.
//
// 50 ms keeps a connection with a round trip of tens of milliseconds (a
// thousand clients each waiting for its reply) on its goroutine; at 10 ms
// such a connection went back to epoll after every message, and echo ran
// at 0.68-0.72x a goroutine-per-connection server instead of 0.80-0.87x
// (BENCHMARKS.md). The cost: a lingering connection holds a goroutine and
// a lingerBufSize buffer, and at most (messages/s x linger) connections
// linger at once.
const linger = 50 * time.Millisecond

// lingerBufSize is the buffer of a lingering read: smaller than
// readBufSize, since it is held while waiting; a larger message takes
// several reads.
const lingerBufSize = 4 << 10

var (
	readBufs   = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}
	lingerBufs = sync.Pool{New: func() any { b := make([]byte, lingerBufSize); return &b }}
)

// pollReader is a frame in progress between readiness events.
type pollReader struct {
	st       readState
	hdr      [14]byte
	hdrN     int
	hdrLen   int // 0 until two header bytes are in
	h        frameHeader
	haveHdr  bool
	act      frameAction
	dst      []byte // where the payload goes
	got      int
	skipLeft int64
}

var pollReaders = sync.Pool{New: func() any { return new(pollReader) }}

// idle reports whether no frame or message is in progress.
func (pr *pollReader) idle() bool {
	return pr.hdrN == 0 && !pr.haveHdr && !pr.st.inMessage
}

// ServePolled runs the connection on p instead of a goroutine of its own.
// It returns at once; HandleClose follows when the connection ends. On an
// error nothing was started and the caller may use Serve instead.
func (c *Conn) ServePolled(p *netpoll.Poller) error {
	reg, err := p.Register(c.conn)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.reg = reg
	due := c.timerDeadline()
	if c.closeSent || c.sockClosed {
		// Closed before reading started: keep the close grace, on the
		// timer instead of the read deadline Close set.
		due = c.closeDeadline
		c.conn.SetReadDeadline(time.Time{})
	}
	c.timer = time.AfterFunc(time.Until(due), c.onTimer)
	c.mu.Unlock()
	if err := reg.Arm(c.onReadable); err != nil {
		c.mu.Lock()
		c.timer.Stop() // if it fires anyway, onTimer sees reg == nil and leaves
		c.reg = nil
		c.mu.Unlock()
		return err
	}
	return nil
}

// onReadable runs on its own goroutine when the socket has bytes.
func (c *Conn) onReadable() {
	c.mu.Lock()
	ended := c.ended
	c.mu.Unlock()
	if ended {
		return // an event fetched just before the connection ended
	}
	bp := readBufs.Get().(*[]byte)
	pr := c.pr
	if pr == nil {
		pr = pollReaders.Get().(*pollReader)
	}
	// Take what is there now...
	for {
		n, err := c.reg.ReadNonblock(*bp)
		if err == netpoll.ErrWouldBlock {
			break
		}
		if err != nil || n == 0 || !c.feed(pr, (*bp)[:n]) {
			readBufs.Put(bp)
			c.pr = nil
			c.endPolled()
			return
		}
		if n < len(*bp) {
			break // drained, probably
		}
	}
	readBufs.Put(bp)
	// ...then, on a busy connection, wait a little for more, as long as it
	// keeps coming. When nothing came, bytes arriving after this are
	// reported at once by the level-triggered re-arm below: nothing is lost.
	now := time.Now().UnixNano()
	busy := now-c.lastReadAt < int64(linger)
	c.lastReadAt = now
	if busy {
		lp := lingerBufs.Get().(*[]byte)
		for {
			n, ok := c.lingerRead(*lp)
			if !ok {
				break
			}
			if !c.feed(pr, (*lp)[:n]) {
				lingerBufs.Put(lp)
				c.pr = nil
				c.endPolled()
				return
			}
		}
		lingerBufs.Put(lp)
	}
	if pr.idle() {
		*pr = pollReader{}
		pollReaders.Put(pr)
		c.pr = nil
	} else {
		c.pr = pr
	}
	c.mu.Lock()
	var err error
	if !c.unregistered {
		err = c.reg.Rearm()
	}
	c.mu.Unlock()
	if err != nil {
		c.endPolled() // the socket is gone
	}
}

// lingerRead waits up to linger for bytes; ok is false when none came
// (or the connection failed, which the next non-blocking read reports).
func (c *Conn) lingerRead(buf []byte) (int, bool) {
	c.conn.SetReadDeadline(time.Now().Add(linger))
	n, err := c.conn.Read(buf)
	c.conn.SetReadDeadline(time.Time{}) // non-blocking reads must not see a past deadline
	return n, err == nil && n > 0
}

// feed parses frames out of b; false stops reading.
func (c *Conn) feed(pr *pollReader, b []byte) bool {
	c.cork()
	defer c.uncork()
	for {
		if !pr.haveHdr {
			if len(b) == 0 {
				return true
			}
			if pr.hdrLen == 0 {
				pr.hdr[pr.hdrN] = b[0]
				pr.hdrN++
				b = b[1:]
				if pr.hdrN == 2 {
					pr.hdrLen = headerLen(pr.hdr[0], pr.hdr[1])
				}
				continue
			}
			n := copy(pr.hdr[pr.hdrN:pr.hdrLen], b)
			pr.hdrN += n
			b = b[n:]
			if pr.hdrN < pr.hdrLen {
				return true
			}
			pr.h = parseHeader(pr.hdr[:pr.hdrLen])
			pr.haveHdr, pr.hdrN, pr.hdrLen, pr.got = true, 0, 0, 0
			pr.act, pr.dst = c.onHeader(&pr.st, pr.h)
			switch pr.act {
			case stopReading:
				return false
			case skipPayload:
				pr.skipLeft = pr.h.length
			}
		}
		if pr.act == skipPayload {
			n := min(pr.skipLeft, int64(len(b)))
			pr.skipLeft -= n
			b = b[n:]
			if pr.skipLeft > 0 {
				return true
			}
			pr.haveHdr = false
			continue
		}
		n := copy(pr.dst[pr.got:], b)
		pr.got += n
		b = b[n:]
		if pr.got < len(pr.dst) {
			return true
		}
		pr.haveHdr = false
		if !c.onPayload(&pr.st, pr.h, pr.dst) {
			return false
		}
	}
}

// onTimer enforces the idle and maximum-age limits and the close grace.
func (c *Conn) onTimer() {
	c.mu.Lock()
	if c.ended || c.reg == nil {
		c.mu.Unlock()
		return
	}
	now := time.Now()
	if c.closeSent || c.sockClosed {
		if now.Before(c.closeDeadline) {
			c.timer.Reset(c.closeDeadline.Sub(now))
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.endPolled() // the client never answered our close frame
		return
	}
	if d := c.timerDeadline(); now.Before(d) {
		c.timer.Reset(d.Sub(now)) // activity moved the idle deadline on
		c.mu.Unlock()
		return
	}
	c.startCloseLocked(CodeGoingAway, ReasonGoingAway)
	c.mu.Unlock()
}

// endPolled ends a polled connection once: it leaves the poller, its
// timer stops, and finish reports the end.
func (c *Conn) endPolled() {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	c.timer.Stop()
	c.unregisterLocked()
	c.mu.Unlock()
	c.finish()
}
