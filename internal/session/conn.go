// Package session runs one client WebSocket connection: a reader that
// turns frames into messages, a bounded send queue drained by a writer that
// exists only while there is something to write, the idle and maximum-age
// timers, and the close handshake with its close codes.
//
// An idle connection holds no goroutine other than its reader, no read
// buffer (frame headers are read into the reader's stack) and no write
// buffer (frames are allocated when sent and dropped once written).
package session

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/netpoll"
	"github.com/switchboardgw/switchboard/internal/throttle"
)

// Options are the limits every connection runs under. One Options value is
// shared by all connections and must not change after the first Serve.
type Options struct {
	IdleTimeout     time.Duration
	MaxDuration     time.Duration
	MaxMessageBytes int
	MaxFrameBytes   int
	AllowBinary     bool
	SendQueueBytes  int
	WriteTimeout    time.Duration
	MaxInflight     int
	// CloseGrace is how long to wait for the client's close frame after
	// sending ours before dropping the TCP connection.
	CloseGrace time.Duration
	// Stats receives counters; may be nil.
	Stats *Stats
}

// Stats counts events across connections.
type Stats struct {
	SlowClosed     atomic.Int64 // connections cut because they did not read
	QueueRejected  atomic.Int64 // sends refused with ErrQueueFull
	ProtocolClosed atomic.Int64 // connections closed for a protocol or limit violation
}

// Handler receives a connection's messages and its end.
type Handler interface {
	// HandleMessage is called on the reader goroutine for each complete
	// message; msg is owned by the handler. Blocking here stops reading.
	HandleMessage(c *Conn, msg []byte, binary bool)
	// HandleClose is called once, after the connection is closed, with the
	// close code and reason for the $disconnect event.
	HandleClose(c *Conn, code int, reason string)
}

// Info describes a connection for events and the @connections API.
type Info struct {
	ID          string
	SourceIP    string
	UserAgent   string
	DomainName  string // the Host the client connected to
	ConnectedAt int64  // Unix milliseconds
	// Auth is what authorization established at $connect; nil if none.
	Auth *awsapi.Auth
}

// Conn is one client connection.
type Conn struct {
	Info
	// Limiter is the state of the handler's per-connection message rate
	// limit: 8 bytes, unused when there is none. The handler calls it from
	// the reader only, one message at a time (throttle.Limiter.AllowSerial).
	Limiter throttle.Limiter

	conn       net.Conn
	raw        syscall.RawConn // non-blocking writes; nil if conn has no descriptor
	opts       *Options
	handler    Handler
	lastActive atomic.Int64 // Unix ms of the last data message in or out

	mu            sync.Mutex
	queue         [][]byte // encoded frames waiting for the writer
	queued        int      // bytes in queue and in the writer's hands
	writing       bool     // someone holds the writer's role (writeLoop or flushLocked)
	corked        bool     // the reader is handling a buffer: replies wait for uncork
	closeSent     bool     // our close frame is queued: no more data frames
	closeCode     int      // the close recorded first, by either side
	closeReason   string
	closeDeadline time.Time
	readerDone    bool // the reader has finished; the writer closes the socket when drained
	sockClosed    bool
	reported      bool          // HandleClose was called
	sem           chan struct{} // bounds in-flight messages; made on first use
	closing       chan struct{} // closed when the connection starts closing; made with sem

	// The readiness-driven reader (poll.go); nil with Serve.
	reg          *netpoll.Registration
	timer        *time.Timer
	ended        bool        // endPolled ran
	unregistered bool        // reg was removed from the poller
	pr           *pollReader // a frame in progress; only the running onReadable uses it
	lastReadAt   int64       // Unix ns of the last readiness event; only onReadable uses it
}

// New wraps an upgraded connection. Call Serve to run it.
func New(conn net.Conn, info Info, opts *Options, h Handler) *Conn {
	c := &Conn{Info: info, conn: conn, opts: opts, handler: h}
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
		}
	}
	c.lastActive.Store(info.ConnectedAt)
	return c
}

// LastActiveAt returns the time of the last data message in or out, in
// Unix milliseconds.
func (c *Conn) LastActiveAt() int64 { return c.lastActive.Load() }

func (c *Conn) touch() { c.lastActive.Store(time.Now().UnixMilli()) }

// Acquire takes one of the connection's in-flight message slots, waiting
// while all are taken. It returns false, without a slot, once the
// connection is closing: the message is then dropped and the reader goes
// back to the close handshake. Only the reader (HandleMessage) calls it.
func (c *Conn) Acquire() bool {
	c.mu.Lock()
	if c.closeSent || c.sockClosed {
		c.mu.Unlock()
		return false
	}
	if c.sem == nil {
		c.sem = make(chan struct{}, max(c.opts.MaxInflight, 1))
		c.closing = make(chan struct{})
	}
	sem, closing := c.sem, c.closing
	c.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return true
	default:
	}
	// About to wait: replies held back by the cork must not wait with us.
	c.uncork()
	select {
	case sem <- struct{}{}:
		return true
	case <-closing:
		return false
	}
}

// Release returns a slot taken by Acquire.
func (c *Conn) Release() { <-c.sem }

// closeSocketLocked closes the TCP connection once, leaving the poller
// first: once closed, the descriptor's number can be reused by a new
// connection, whose registration a late epoll call must not touch.
// c.mu must be held.
func (c *Conn) closeSocketLocked() {
	c.unregisterLocked()
	if !c.sockClosed {
		c.sockClosed = true
		c.conn.Close()
	}
}

// unregisterLocked removes the connection from its poller, once.
func (c *Conn) unregisterLocked() {
	if c.reg != nil && !c.unregistered {
		c.unregistered = true
		c.reg.Remove()
	}
}
