//go:build linux

package netpoll

import (
	"io"
	"net"
	"runtime/pprof"
	"testing"
	"time"
)

// pair returns both ends of a loopback TCP connection.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

func TestReadinessOneShotAndRearm(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	server, client := pair(t)
	reg, err := p.Register(server)
	if err != nil {
		t.Fatal(err)
	}
	fired := make(chan struct{}, 4)
	if err := reg.Arm(func() { fired <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if _, err := reg.ReadNonblock(buf); err != ErrWouldBlock {
		t.Fatalf("empty socket: %v, want ErrWouldBlock", err)
	}
	client.Write([]byte("hello"))
	waitFired(t, fired)
	// One-shot: more bytes do not fire again until re-armed...
	client.Write([]byte("!"))
	select {
	case <-fired:
		t.Fatal("fired again without Rearm")
	case <-time.After(50 * time.Millisecond):
	}
	// ...and re-arming with bytes still unread fires at once.
	if err := reg.Rearm(); err != nil {
		t.Fatal(err)
	}
	waitFired(t, fired)
	n, err := reg.ReadNonblock(buf)
	if err != nil || string(buf[:n]) != "hello!" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	client.Close()
	reg.Rearm()
	waitFired(t, fired) // end of stream is readiness too
	if n, err := reg.ReadNonblock(buf); n != 0 || err != nil {
		t.Fatalf("at end of stream: %d, %v", n, err)
	}
	reg.Remove()
}

// A closed poller must not keep waiting on its descriptor number: the next
// poller may get the same number, and a stale loop would take its events.
// Profiling signals interrupt the wait, which is when a stale loop would
// go back to waiting on the reused number.
func TestClosedPollerLeavesNewOneAlone(t *testing.T) {
	if err := pprof.StartCPUProfile(io.Discard); err == nil {
		defer pprof.StopCPUProfile()
	}
	for i := range 30 {
		old, err := New()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // let its loop block in epoll_wait
		old.Close()
		p, err := New()
		if err != nil {
			t.Fatal(err)
		}
		server, client := pair(t)
		reg, err := p.Register(server)
		if err != nil {
			t.Fatal(err)
		}
		fired := make(chan struct{}, 1)
		reg.Arm(func() { fired <- struct{}{} })
		// Interrupted waits happen on profiling ticks (10ms); give them time.
		for range 5 {
			busy(10 * time.Millisecond)
		}
		client.Write([]byte("x"))
		select {
		case <-fired:
		case <-time.After(2 * time.Second):
			t.Fatalf("round %d: the event never reached the new poller", i)
		}
		reg.Remove()
		p.Close()
	}
}

func busy(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

func waitFired(t *testing.T, fired chan struct{}) {
	t.Helper()
	select {
	case <-fired:
	case <-time.After(2 * time.Second):
		t.Fatal("no readiness event")
	}
}

// Generations stay positive when the counter wraps, so no registration is
// ever mistaken for the wake-up that stops the loop.
func TestGenerationWrapKeepsLoopRunning(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.mu.Lock()
	p.gen = 1<<31 - 2 // the next registrations wrap
	p.mu.Unlock()
	for i := range 3 {
		server, client := pair(t)
		reg, err := p.Register(server)
		if err != nil {
			t.Fatal(err)
		}
		if reg.gen <= 0 {
			t.Fatalf("registration %d got generation %d", i, reg.gen)
		}
		fired := make(chan struct{}, 1)
		reg.Arm(func() { fired <- struct{}{} })
		client.Write([]byte("x"))
		waitFired(t, fired)
		reg.Remove()
	}
}
