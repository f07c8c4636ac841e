package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

// TestMain doubles as the idle-client process of BenchmarkIdleMemory:
// with SWITCHBOARD_BENCH_DIALER set, this binary only dials connections.
func TestMain(m *testing.M) {
	if addr := os.Getenv("SWITCHBOARD_BENCH_DIALER"); addr != "" {
		n, _ := strconv.Atoi(os.Getenv("SWITCHBOARD_BENCH_CONNS"))
		os.Exit(dialIdle(addr, n))
	}
	os.Exit(m.Run())
}

// dialIdle opens n WebSocket connections to url from 127.0.0.1-8, holds
// them without a goroutine each, prints "ready", and exits when stdin closes.
func dialIdle(url string, n int) int {
	conns := make([]net.Conn, 0, n)
	for i := range n {
		src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%8))}
		d := ws.Dialer{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return (&net.Dialer{LocalAddr: src}).DialContext(ctx, network, addr)
		}, TLSConfig: &tls.Config{InsecureSkipVerify: true}} // the benchmark's own self-signed certificate
		c, _, _, err := d.Dial(context.Background(), url)
		if err != nil {
			fmt.Fprintf(os.Stderr, "dial %d: %v\n", i, err)
			return 1
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return 0
}

type memSample struct {
	heap, stack, rss uint64
	goroutines       int
}

func sampleMemory() memSample {
	for range 3 {
		runtime.GC()
	}
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapInuse, stack: ms.StackInuse, rss: rssBytes(), goroutines: runtime.NumGoroutine()}
}

func rssBytes() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkIdleMemory measures the gateway's user-space memory per idle
// connection: N clients (SWITCHBOARD_BENCH_CONNS, default 10000) connect
// from another process and stay silent; the gateway's heap, stack and RSS
// growth is divided by N. Run with -benchtime=1x.
func BenchmarkIdleMemory(b *testing.B) {
	idleMemory(b, string(demoForBench))
}

// BenchmarkIdleMemoryTLS is BenchmarkIdleMemory over wss:// (TLS 1.3,
// ECDSA P-256): what terminating TLS in the gateway costs per connection.
func BenchmarkIdleMemoryTLS(b *testing.B) {
	dir := b.TempDir()
	writeCert(b, dir, 1)
	idleMemory(b, strings.Replace(string(demoForBench), "integrations:",
		"tls: {certFile: "+dir+"/tls.crt, keyFile: "+dir+"/tls.key}\nintegrations:", 1))
}

func idleMemory(b *testing.B, yaml string) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("SWITCHBOARD_BENCH_CONNS")); err == nil && v > 0 {
		n = v
	}
	ts := sbt.RunServer(b, yaml)
	before := sampleMemory()

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SWITCHBOARD_BENCH_DIALER="+ts.URL, "SWITCHBOARD_BENCH_CONNS="+strconv.Itoa(n))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		b.Fatalf("dialer: %q %v", line, err)
	}
	sbt.CheckFor(b, 30*time.Second, func() error {
		if got := ts.Connections(); got != n {
			return fmt.Errorf("%d of %d connections registered", got, n)
		}
		return nil
	})
	for b.Loop() {
	}
	after := sampleMemory()
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	b.ReportMetric(per(after.heap, before.heap), "heap-B/conn")
	b.ReportMetric(per(after.stack, before.stack), "stack-B/conn")
	b.ReportMetric(per(after.heap+after.stack, before.heap+before.stack), "user-B/conn")
	b.ReportMetric(per(after.rss, before.rss), "rss-B/conn")
	b.ReportMetric(float64(after.goroutines-before.goroutines)/float64(n), "goroutines/conn")
}

var demoForBench = []byte(sbt.ManagementYAML + `
integrations:
  echo: {type: MOCK, response: {body: $request.body}}
routes:
  $default: {integration: echo, routeResponseSelectionExpression: $default}
`)

// BenchmarkEcho measures MOCK echo round trips through the gateway
// (routing, event context, template, send queue) and, in the same run,
// through a bare gobwas/ws echo server that does none of that. 64
// connections each keep one message in flight; compare msgs/s.
func BenchmarkEcho(b *testing.B) {
	b.Run("switchboard", func(b *testing.B) {
		ts := sbt.RunServer(b, string(demoForBench))
		runEcho(b, ts.URL)
	})
	b.Run("bare-gobwas", func(b *testing.B) {
		runEcho(b, bareEchoServer(b))
	})
}

const echoConns = 64

func runEcho(b *testing.B, url string) {
	conns := make([]net.Conn, echoConns)
	for i := range conns {
		c, _, _, err := ws.Dial(context.Background(), url)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	msg := []byte(`{"action":"echo","data":"a short chat message of 48 bytes"}`)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := b.N/echoConns + 1
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if err := wsutil.WriteClientText(c, msg); err != nil {
					b.Errorf("message %d: send: %v", i, err)
					return
				}
				if _, err := wsutil.ReadServerText(c); err != nil {
					b.Errorf("message %d: receive: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(per*echoConns)/time.Since(start).Seconds(), "msgs/s")
}

// bareEchoServer is the baseline: accept, upgrade, echo each frame.
func bareEchoServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := ws.Upgrade(c); err != nil {
					return
				}
				for {
					msg, op, err := wsutil.ReadClientData(c)
					if err != nil {
						return
					}
					if err := wsutil.WriteServerMessage(c, op, msg); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "ws://" + ln.Addr().String() + "/dev"
}

// BenchmarkReload measures Apply of a configuration of 100 routes, each
// with its own URL integration and request model, while 100 connections
// are open: what a SIGHUP costs, which no message waits for.
func BenchmarkReload(b *testing.B) {
	var cfg strings.Builder
	cfg.WriteString(sbt.ManagementYAML + "models:\n")
	for i := range 100 {
		fmt.Fprintf(&cfg, "  M%d: {type: object, required: [action, n%d], properties: {n%d: {type: integer, maximum: %d}}}\n", i, i, i, i)
	}
	cfg.WriteString("integrations:\n  echo: {type: MOCK, response: {body: $request.body}}\n")
	for i := range 100 {
		fmt.Fprintf(&cfg, "  i%d: {type: AWS_PROXY, uri: \"http://127.0.0.1:9/r%d\"}\n", i, i)
	}
	cfg.WriteString("routes:\n  $default: {integration: echo, routeResponseSelectionExpression: $default}\n")
	for i := range 100 {
		fmt.Fprintf(&cfg, "  r%d: {integration: i%d, modelSelectionExpression: $default, requestModels: {$default: M%d}}\n", i, i, i)
	}
	ts := sbt.RunServer(b, cfg.String())
	for range 100 {
		sbt.MustDial(b, ts.URL)
	}
	next := parseNext(b, ts, cfg.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ts.Apply(next); err != nil {
			b.Fatal(err)
		}
	}
}
