package dispatch_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/switchboardgw/switchboard/internal/awsapi"
	"github.com/switchboardgw/switchboard/internal/config"
	"github.com/switchboardgw/switchboard/internal/integration"
	"github.com/switchboardgw/switchboard/internal/integration/mock"
	"github.com/switchboardgw/switchboard/internal/session"
)

// benchMessage is shaped like the echo benchmark's messages (64 bytes,
// an action no route names, so $default answers).
var benchMessage = []byte(`{"action":"echo","t":1732406400000000000,"p":"xxxxxxxxxxxxxxx"}`)

// BenchmarkHandleMessage measures one message through the dispatcher on a
// real session over loopback TCP: route selection, the event, the
// integration and the reply's write to the socket, as the reader does it
// for each message. The client side reads and discards the replies.
func BenchmarkHandleMessage(b *testing.B) {
	echo, err := mock.New(&config.MockResponse{StatusCode: 200, Body: "$request.body"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("mock-echo", func(b *testing.B) {
		benchmarkHandleMessage(b, echo)
	})
	// The same on a connection that is closing, whose Send encodes the
	// reply and then drops it: the message path's own work, without the
	// system call that dominates (and makes noisy) the run above.
	b.Run("mock-echo-no-write", func(b *testing.B) {
		benchmarkNoWrite(b, echo)
	})
	// An integration that is not inline but answers at once: the I/O
	// path's own cost (in-flight slot, goroutine, timeout context) without
	// a backend's.
	b.Run("io-path", func(b *testing.B) {
		benchmarkHandleMessage(b, instantEcho{})
	})
}

// window is how many messages the benchmark keeps in flight.
const window = 16

func benchmarkHandleMessage(b *testing.B, in integration.Integration) {
	d := newDispatcher(in)
	server, client := loopback(b)
	c := newSession(server)
	replies := countReplies(b, client, 2+len(benchMessage)) // a short unmasked text frame

	b.ReportAllocs()
	b.SetBytes(int64(len(benchMessage)))
	b.ResetTimer()
	for range b.N {
		// Like a client with a window of messages in flight: a message
		// goes out when a reply has come back, so the send queue stays
		// short however fast the dispatcher is.
		<-replies
		// Each message is its own slice, as the session hands it over.
		msg := append([]byte(nil), benchMessage...)
		d.HandleMessage(c, msg, false)
	}
	// Every reply reaches the client before the clock stops.
	timeout := time.After(10 * time.Second)
	for range window {
		select {
		case <-replies:
		case <-timeout:
			b.Fatal("replies missing 10 s after the last message")
		}
	}
}

func benchmarkNoWrite(b *testing.B, in integration.Integration) {
	d := newDispatcher(in)
	server, _ := loopback(b)
	c := newSession(server)
	c.Close(session.CodeGoingAway, session.ReasonGoingAway)

	b.ReportAllocs()
	b.SetBytes(int64(len(benchMessage)))
	b.ResetTimer()
	for range b.N {
		msg := append([]byte(nil), benchMessage...)
		d.HandleMessage(c, msg, false)
	}
}

// countReplies reads and discards what the server sends to client. The
// channel it returns holds window tokens; one comes back each time another
// frameLen bytes have arrived.
func countReplies(tb testing.TB, client net.Conn, frameLen int) chan struct{} {
	replies := make(chan struct{}, window)
	for range window {
		replies <- struct{}{}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		pending := 0 // bytes of replies not yet counted
		for {
			n, err := client.Read(buf)
			for pending += n; pending >= frameLen; pending -= frameLen {
				replies <- struct{}{} // never blocks: only taken tokens come back
			}
			if err != nil {
				return
			}
		}
	}()
	tb.Cleanup(func() {
		client.Close()
		<-done
	})
	return replies
}

// instantEcho answers with the message at once, but is not Inline, so
// the dispatcher runs it as it runs integrations that wait on I/O.
type instantEcho struct{}

func (instantEcho) Invoke(_ context.Context, ev *awsapi.Event) (*integration.Response, error) {
	return &integration.Response{StatusCode: 200, Body: ev.Body}, nil
}
