//go:build linux

package netpoll

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Poller watches registered connections for readability.
type Poller struct {
	epfd int
	// wake is an eventfd in the epoll set: Close writes to it, and the loop,
	// which owns both descriptors, closes them on its way out. Closing the
	// epoll descriptor under a waiting loop would let the loop wait again
	// on the number after it was reused, by another poller even.
	wake int

	// ctl orders control operations before Close: once closed is set, they
	// do nothing, because the descriptor numbers may belong to others.
	ctl    sync.RWMutex
	closed bool

	mu   sync.Mutex
	regs map[int32]*Registration // by file descriptor
	gen  int32
	done chan struct{}
}

// Registration is one connection's entry in a poller.
type Registration struct {
	p          *Poller
	fd         int32
	gen        int32
	onReadable func()
	// armed orders one reader's work before the next: written before each
	// re-arming, read before the next reader starts.
	armed atomic.Uint32
	// Raw gives non-blocking access to the socket (see ReadNonblock).
	Raw syscall.RawConn
}

// wakeMark tags the wake-up eventfd's events; registrations have gen ≥ 1.
const wakeMark = -1

// New starts a poller with one goroutine waiting for events.
func New() (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("netpoll: epoll_create1: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("netpoll: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake), Pad: wakeMark}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(wake)
		unix.Close(epfd)
		return nil, fmt.Errorf("netpoll: epoll_ctl add eventfd: %w", err)
	}
	p := &Poller{epfd: epfd, wake: wake, regs: map[int32]*Registration{}, done: make(chan struct{})}
	go p.loop()
	return p, nil
}

// Register prepares conn for polling. Nothing is reported until Arm.
func (p *Poller) Register(conn net.Conn) (*Registration, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("netpoll: %T has no file descriptor", conn)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd int32
	if err := raw.Control(func(f uintptr) { fd = int32(f) }); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.gen++
	if p.gen <= 0 {
		p.gen = 1 // after wrapping: generations stay positive, apart from wakeMark
	}
	r := &Registration{p: p, fd: fd, gen: p.gen, Raw: raw}
	p.mu.Unlock()
	return r, nil
}

// Arm starts watching: onReadable runs on a new goroutine the next time
// the connection has bytes to read (or the peer closed it), once per
// arming; Rearm asks for the next time.
func (r *Registration) Arm(onReadable func()) error {
	r.p.ctl.RLock()
	defer r.p.ctl.RUnlock()
	if r.p.closed {
		return ErrClosed
	}
	r.onReadable = onReadable
	r.p.mu.Lock()
	r.p.regs[r.fd] = r
	r.p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: r.fd, Pad: r.gen}
	if err := unix.EpollCtl(r.p.epfd, unix.EPOLL_CTL_ADD, int(r.fd), &ev); err != nil {
		r.p.forget(r)
		return fmt.Errorf("netpoll: epoll_ctl add: %w", err)
	}
	return nil
}

// Rearm asks for the next readability event.
func (r *Registration) Rearm() error {
	r.p.ctl.RLock()
	defer r.p.ctl.RUnlock()
	if r.p.closed {
		return ErrClosed
	}
	r.armed.Add(1)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: r.fd, Pad: r.gen}
	if err := unix.EpollCtl(r.p.epfd, unix.EPOLL_CTL_MOD, int(r.fd), &ev); err != nil {
		return fmt.Errorf("netpoll: epoll_ctl mod: %w", err)
	}
	return nil
}

// Remove unregisters the connection; call it before closing the socket,
// so its descriptor number can be reused safely.
func (r *Registration) Remove() {
	r.p.ctl.RLock()
	defer r.p.ctl.RUnlock()
	if !r.p.closed {
		unix.EpollCtl(r.p.epfd, unix.EPOLL_CTL_DEL, int(r.fd), nil)
	}
	r.p.forget(r)
}

func (p *Poller) forget(r *Registration) {
	p.mu.Lock()
	if p.regs[r.fd] == r {
		delete(p.regs, r.fd)
	}
	p.mu.Unlock()
}

// ErrWouldBlock is returned by ReadNonblock when no bytes are waiting.
var ErrWouldBlock = errors.New("netpoll: no data")

// ReadNonblock makes one read attempt without waiting: it returns the
// bytes waiting on the socket, ErrWouldBlock when there are none, or
// (0, nil) at end of stream.
func (r *Registration) ReadNonblock(p []byte) (int, error) {
	var n int
	var err error
	rerr := r.Raw.Read(func(fd uintptr) bool {
		for {
			n, err = unix.Read(int(fd), p)
			if err != unix.EINTR {
				return true // never wait: the caller re-arms instead
			}
		}
	})
	switch {
	case rerr != nil:
		return 0, rerr
	case err == unix.EAGAIN:
		return 0, ErrWouldBlock
	case err != nil:
		return 0, err
	case n < 0:
		return 0, nil
	}
	return n, nil
}

func (p *Poller) loop() {
	defer close(p.done)
	defer unix.Close(p.wake)
	defer unix.Close(p.epfd)
	defer func() {
		// However the loop ends, nothing may touch the descriptors again.
		p.ctl.Lock()
		p.closed = true
		p.ctl.Unlock()
	}()
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for i := range n {
			ev := &events[i]
			if ev.Pad == wakeMark {
				return // Close
			}
			p.mu.Lock()
			r := p.regs[ev.Fd]
			p.mu.Unlock()
			if r != nil && r.gen == ev.Pad {
				r.armed.Load()
				go r.onReadable()
			}
		}
	}
}

// Close stops the poller and waits for its goroutine to end. Registered
// connections are not closed.
func (p *Poller) Close() error {
	p.ctl.Lock()
	if p.closed {
		p.ctl.Unlock()
		<-p.done
		return nil
	}
	p.closed = true
	p.ctl.Unlock()
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0} // eventfd counters are 8 bytes
	if _, err := unix.Write(p.wake, one); err != nil {
		return fmt.Errorf("netpoll: waking the poller: %w", err)
	}
	<-p.done
	return nil
}

// maxIOV is Linux's IOV_MAX: the most buffers one writev takes.
const maxIOV = 1024

// WriteNonblock makes one gathering write attempt on raw without waiting:
// it returns how many bytes of bufs the socket took (0 when its buffer is
// full).
func WriteNonblock(raw syscall.RawConn, bufs [][]byte) (int, error) {
	if len(bufs) > maxIOV {
		bufs = bufs[:maxIOV] // writev takes at most IOV_MAX buffers; the caller queues the rest
	}
	var n int
	var err error
	rerr := raw.Write(func(fd uintptr) bool {
		for {
			n, err = unix.Writev(int(fd), bufs)
			if err != unix.EINTR {
				return true // never wait: the caller queues the rest
			}
		}
	})
	switch {
	case rerr != nil:
		return 0, rerr
	case err == unix.EAGAIN:
		return 0, nil
	case err != nil:
		return 0, err
	case n < 0:
		return 0, nil
	}
	return n, nil
}
