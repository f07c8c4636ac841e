package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

// upgradeHead is a valid upgrade request for /dev with extra header lines.
func upgradeHead(target string, extra ...string) string {
	h := "GET " + target + " HTTP/1.1\r\nHost: gw.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h + "\r\n"
}

// rawExchange writes raw bytes to the gateway and reads one response.
func rawExchange(t *testing.T, addr, raw string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	return resp, conn, br
}

func withLimits(yaml, limits string) string {
	return strings.Replace(yaml, "integrations:", "stage: {limits: {"+limits+"}}\nintegrations:", 1)
}

func TestHandshakeAnswer(t *testing.T) {
	ts := sbt.RunServer(t, whoamiYAML)
	resp, _, _ := rawExchange(t, ts.Addr, upgradeHead("/dev"))
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// RFC 6455 §1.3's example key and answer.
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("Sec-WebSocket-Accept %q", got)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") || !strings.EqualFold(resp.Header.Get("Connection"), "upgrade") {
		t.Errorf("headers %v", resp.Header)
	}
}

// A frame sent in the same packet as the upgrade request is not lost.
func TestFrameRightAfterTheHead(t *testing.T) {
	ts := sbt.RunServer(t, whoamiYAML)
	var frame strings.Builder
	f := ws.MaskFrame(ws.NewTextFrame([]byte("who")))
	ws.WriteFrame(&frame, f)
	resp, conn, br := rawExchange(t, ts.Addr, upgradeHead("/dev/")+frame.String())
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, err := ws.ReadHeader(br)
	if err != nil || h.OpCode != ws.OpText || h.Length != 16 {
		t.Fatalf("reply %+v %v, want a text frame holding the connection id", h, err)
	}
}

func TestBareLFLineEnds(t *testing.T) {
	ts := sbt.RunServer(t, whoamiYAML)
	resp, _, _ := rawExchange(t, ts.Addr, strings.ReplaceAll(upgradeHead("/dev"), "\r\n", "\n"))
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestMalformedUpgrades(t *testing.T) {
	ts := sbt.RunServer(t, withLimits(whoamiYAML, "maxUrlLength: 100, maxHeaderBytes: 2048"))
	long := "/dev?q=" + strings.Repeat("a", 100)
	for _, tc := range []struct {
		name, raw string
		status    int
	}{
		{"space before colon", upgradeHead("/dev", "X-Bad : 1"), http.StatusBadRequest},
		{"no colon", upgradeHead("/dev", "X-Bad"), http.StatusBadRequest},
		{"folded line", upgradeHead("/dev", "X-Fold: a", " b"), http.StatusBadRequest},
		{"no host", strings.Replace(upgradeHead("/dev"), "Host: gw.example\r\n", "", 1), http.StatusBadRequest},
		{"two hosts", upgradeHead("/dev", "Host: other"), http.StatusBadRequest},
		{"body", upgradeHead("/dev", "Content-Length: 5") + "hello", http.StatusBadRequest},
		{"bad key", strings.Replace(upgradeHead("/dev"), "dGhlIHNhbXBsZSBub25jZQ==", "short", 1), http.StatusBadRequest},
		{"version 8", strings.Replace(upgradeHead("/dev"), "Version: 13", "Version: 8", 1), http.StatusUpgradeRequired},
		{"HTTP/1.0", strings.Replace(upgradeHead("/dev"), "HTTP/1.1", "HTTP/1.0", 1), http.StatusBadRequest},
		{"POST", strings.Replace(upgradeHead("/dev"), "GET", "POST", 1), http.StatusMethodNotAllowed},
		{"URL too long", upgradeHead(long), http.StatusRequestURITooLong},
		{"head too large", upgradeHead("/dev", "X-Big: "+strings.Repeat("b", 3000)), http.StatusRequestHeaderFieldsTooLarge},
		{"head too large for the first read", upgradeHead("/dev", "X-Big: "+strings.Repeat("b", 20000)), http.StatusRequestHeaderFieldsTooLarge},
		{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _, _ := rawExchange(t, ts.Addr, tc.raw)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
	// At the limit is fine.
	resp, _, _ := rawExchange(t, ts.Addr, upgradeHead("/dev?q="+strings.Repeat("a", 100-len("/dev?q="))))
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Errorf("URL of maxUrlLength: status %d", resp.StatusCode)
	}
}

// A head too long for the first read goes to net/http, which upgrades it
// too (with canonical header spelling).
func TestLongHeadUpgrades(t *testing.T) {
	rec := newRecorder(t)
	ts := sbt.RunServer(t, sbt.ManagementYAML+`
stage: {limits: {maxHeaderBytes: 65536}}
integrations:
  rec: {type: AWS_PROXY, uri: "`+rec.URL+`"}
routes:
  $connect: {integration: rec}
  $default: {integration: rec}
`)
	big := strings.Repeat("z", 12000)
	resp, _, _ := rawExchange(t, ts.Addr, upgradeHead("/dev", "x-big: "+big))
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.events) != 1 {
		t.Fatalf("%d events", len(rec.events))
	}
	if h := rec.events[0]["headers"].(map[string]any); h["X-Big"] != big {
		t.Errorf("$connect headers lack X-Big")
	}
}

// Clients that send their head slowly, or nothing, are dropped after
// handshakeTimeout, and neither they nor refused upgrades leave a
// goroutine behind.
func TestSlowAndBadClientsLeaveNothing(t *testing.T) {
	ts := sbt.RunServer(t, withLimits(whoamiYAML, "handshakeTimeout: 300ms"))
	rawExchange(t, ts.Addr, upgradeHead("/dev", "X-Bad")) // warm up net/http
	before := runtime.NumGoroutine()

	var conns []net.Conn
	for i := range 20 {
		c, err := net.Dial("tcp", ts.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if i%2 == 0 {
			io.WriteString(c, "GET /dev HTTP/1.1\r\nHost: x\r\n") // never finished
		}
		conns = append(conns, c)
	}
	for range 20 {
		resp, conn, _ := rawExchange(t, ts.Addr, upgradeHead("/dev", "X-Bad"))
		resp.Body.Close()
		conn.Close()
	}
	start := time.Now()
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(make([]byte, 1))
		if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("slow client %d: read %d bytes, %v; want the connection closed", i, n, err)
		}
	}
	if waited := time.Since(start); waited > 4*time.Second {
		t.Errorf("slow clients closed after %v; handshakeTimeout is 300ms", waited)
	}
	sbt.CheckFor(t, 5*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines, %d before", n, before)
		}
		return nil
	})
}
