package baseline

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/backend"
	"github.com/switchboardgw/switchboard/internal/bench/loadgen"
	"github.com/switchboardgw/switchboard/internal/bench/probe"
)

func start(t *testing.T, opt Options) Info {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, opt, pw) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bare %s: %v", opt.Mode, err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	var info Info
	if err := json.Unmarshal([]byte(line), &info); err != nil {
		t.Fatal(err)
	}
	return info
}

func dial(t *testing.T, url string) *loadgen.Conn {
	t.Helper()
	c, err := (&loadgen.Dialer{Sources: 1}).Dial(context.Background(), url, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func roundTrip(t *testing.T, c *loadgen.Conn, msg string) string {
	t.Helper()
	if err := c.WriteText([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	return string(got)
}

func TestEchoAndRouted(t *testing.T) {
	be := httptest.NewServer(&backend.Handler{})
	defer be.Close()
	msg := `{"action":"echo","t":123,"p":"quote \" backslash \\ done"}`
	for _, opt := range []Options{{Mode: "echo"}, {Mode: "routed", Backend: be.URL + "/message"}} {
		t.Run(opt.Mode, func(t *testing.T) {
			info := start(t, opt)
			c := dial(t, info.WS)
			for range 3 {
				if got := roundTrip(t, c, msg); got != msg {
					t.Fatalf("reply %q, want %q", got, msg)
				}
			}
		})
	}
}

func TestAcceptHoldsAtMostHold(t *testing.T) {
	info := start(t, Options{Mode: "accept", Hold: 2})
	first := dial(t, info.WS)
	dial(t, info.WS)
	dial(t, info.WS)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if v, err := probe.WaitVars(ctx, info.Debug, func(v probe.Vars) bool { return v.Connections == 2 }); err != nil {
		t.Fatalf("holding %d, want 2: %v", v.Connections, err)
	}
	// The oldest was closed to make room.
	if _, err := first.ReadMessage(); err == nil {
		t.Error("the oldest connection should have been closed")
	}
}

func TestBroadcastAndMgmt(t *testing.T) {
	info := start(t, Options{Mode: "broadcast"})
	c := dial(t, info.WS)
	id := roundTrip(t, c, `{"action":"whoami"}`)
	if id == "" {
		t.Fatal("no id")
	}
	resp, err := http.Post(info.HTTP+"/@connections/"+id, "application/json", strings.NewReader(`{"t":5}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST: %v %v", resp, err)
	}
	if got, err := c.ReadMessage(); err != nil || string(got) != `{"t":5}` {
		t.Fatalf("delivered %q, %v", got, err)
	}
	if resp, _ := http.Post(info.HTTP+"/@connections/nobody", "", nil); resp == nil || resp.StatusCode != http.StatusGone {
		t.Errorf("unknown id: %v, want 410", resp)
	}

	mgmt := start(t, Options{Mode: "mgmt"})
	resp, err = http.Post(mgmt.HTTP+"/@connections/anything", "", strings.NewReader("x"))
	if err != nil || resp.StatusCode != 200 || mgmt.WS != "" {
		t.Fatalf("mgmt: %v %v %+v", resp, err, mgmt)
	}
}
