//go:build linux

package session

import (
	"net"
	"testing"
	"time"

	"github.com/switchboardgw/switchboard/internal/netpoll"
)

type closeCodes chan int

func (closeCodes) HandleMessage(*Conn, []byte, bool)          {}
func (ch closeCodes) HandleClose(_ *Conn, code int, _ string) { ch <- code }

// A connection closed before its polled reader starts still ends after the
// close grace when the client never answers, not at the idle timeout.
func TestCloseBeforeServePolledKeepsTheGrace(t *testing.T) {
	p, err := netpoll.New()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String()) // never answers
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ended := make(closeCodes, 1)
	c := New(server, Info{ID: "x", ConnectedAt: time.Now().UnixMilli()}, &Options{
		IdleTimeout: time.Hour, MaxDuration: time.Hour, MaxMessageBytes: 1 << 16, MaxFrameBytes: 1 << 16,
		SendQueueBytes: 1 << 20, WriteTimeout: time.Second, MaxInflight: 4, CloseGrace: 200 * time.Millisecond,
	}, ended)
	c.Close(CodeGoingAway, ReasonGoingAway)
	if err := c.ServePolled(p); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-ended:
		if code != CodeGoingAway {
			t.Errorf("ended with %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not ended 5 s after a close with a 200 ms grace")
	}
}
