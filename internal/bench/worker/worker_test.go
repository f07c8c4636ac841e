package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/baseline"
	"github.com/switchboardgw/switchboard/internal/bench/loadgen"
	"github.com/switchboardgw/switchboard/internal/bench/probe"
)

func TestSplit(t *testing.T) {
	job := Job{Kind: KindIdle, Conns: 40001, DialConcurrency: 64, Concurrency: 10, First: 5, Echo: loadgen.Echo{Rate: 900}}
	jobs := Split(job, 1, 18000)
	if len(jobs) != 3 {
		t.Fatalf("%d jobs, want 3", len(jobs))
	}
	total, conc, first := 0, 0, 5
	var rate float64
	for _, j := range jobs {
		if j.Conns > 18000 || j.Conns < 13333 {
			t.Errorf("uneven share: %d connections", j.Conns)
		}
		if j.First != first {
			t.Errorf("first = %d, want %d", j.First, first)
		}
		first += j.Conns
		total += j.Conns
		conc += j.Concurrency
		rate += j.Echo.Rate
	}
	if total != 40001 || conc != 10 || rate != 900 {
		t.Errorf("shares sum to %d conns, %d concurrency, %v rate; want 40001, 10, 900", total, conc, rate)
	}
	// A storm job with no connections still gets the workers asked for,
	// each with at least one goroutine.
	jobs = Split(Job{Kind: KindHandshakes, Concurrency: 3}, 4, 18000)
	if len(jobs) != 4 || jobs[3].Concurrency != 1 {
		t.Errorf("storm split = %+v", jobs)
	}
	if jobs := Split(Job{Conns: 10}, 1, 1<<30); len(jobs) != 1 {
		t.Errorf("perWorker above MaxConns: %d jobs", len(jobs))
	}
}

// bare starts an in-process bare server and returns its Info.
func bare(t *testing.T, mode string) baseline.Info {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- baseline.Serve(ctx, baseline.Options{Mode: mode}, pw) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bare %s: %v", mode, err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	var info baseline.Info
	if err := json.Unmarshal([]byte(line), &info); err != nil {
		t.Fatal(err)
	}
	return info
}

// session runs Serve in-process on pipes.
type session struct {
	t    *testing.T
	in   io.WriteCloser
	out  *bufio.Reader
	done chan error
}

func serveJob(t *testing.T, job Job) *session {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &session{t: t, in: inW, out: bufio.NewReader(outR), done: make(chan error, 1)}
	go func() {
		err := Serve(context.Background(), inR, outW)
		outW.Close()
		inR.Close()
		s.done <- err
	}()
	line, _ := json.Marshal(envelope{Job: &job})
	s.send(string(line))
	return s
}

func (s *session) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		s.t.Fatal(err)
	}
}

func (s *session) event(want string) Event {
	s.t.Helper()
	line, err := s.out.ReadString('\n')
	if err != nil {
		s.t.Fatalf("reading the %s event: %v", want, err)
	}
	var e Event
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		s.t.Fatalf("event %q: %v", line, err)
	}
	if e.Type != want {
		s.t.Fatalf("event %q, want type %s", line, want)
	}
	return e
}

func (s *session) wait() error {
	s.t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-time.After(20 * time.Second):
		s.t.Fatal("worker did not return")
		return nil
	}
}

func TestEchoJob(t *testing.T) {
	for _, tc := range []struct {
		name string
		echo loadgen.Echo
	}{
		{"closed loop", loadgen.Echo{Action: "echo", Size: 64, Inflight: 2}},
		{"open loop", loadgen.Echo{Action: "echo", Size: 64, Rate: 400}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := bare(t, "echo")
			s := serveJob(t, Job{Kind: KindEcho, Targets: []string{info.WS}, Conns: 4, Sources: 8, DialConcurrency: 2,
				Warmup: Duration(50 * time.Millisecond), Duration: Duration(300 * time.Millisecond), Echo: tc.echo})
			if e := s.event(EventConnected); e.Conns != 4 {
				t.Fatalf("connected %d, want 4", e.Conns)
			}
			s.send(`{"cmd":"start"}`)
			st := s.event(EventResult).Stats
			if st == nil || st.Ops == 0 || st.Errors != 0 || st.Latency.Count() != uint64(st.Ops) || st.Seconds != 0.3 {
				t.Fatalf("result = %+v", st)
			}
			if tc.echo.Rate > 0 && (st.Sent == 0 || st.Sent > 200) {
				t.Errorf("open loop sent %d in 0.3 s at 400/s", st.Sent)
			}
			s.send(`{"cmd":"stop"}`)
			if err := s.wait(); err != nil {
				t.Fatal(err)
			}
			// The worker closed its connections on the way out.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if v, err := probe.WaitVars(ctx, info.Debug, func(v probe.Vars) bool { return v.Connections == 0 }); err != nil {
				t.Fatalf("bare server still has %d connections: %v", v.Connections, err)
			}
		})
	}
}

func TestIdleJobStoppedBeforeStart(t *testing.T) {
	info := bare(t, "echo")
	s := serveJob(t, Job{Kind: KindIdle, Targets: []string{info.WS}, Conns: 20, Sources: 8, DialConcurrency: 4})
	e := s.event(EventConnected)
	if e.Conns != 20 || e.Stats == nil || e.Stats.Errors != 0 {
		t.Fatalf("connected = %+v", e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := probe.WaitVars(ctx, info.Debug, func(v probe.Vars) bool { return v.Connections == 20 }); err != nil {
		t.Fatal(err)
	}
	s.in.Close() // the parent going away stops the worker
	if err := s.wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := probe.WaitVars(ctx, info.Debug, func(v probe.Vars) bool { return v.Connections == 0 }); err != nil {
		t.Fatal(err)
	}
}

func TestReceiveAndPostJobs(t *testing.T) {
	info := bare(t, "broadcast")
	window := Job{Warmup: Duration(50 * time.Millisecond), Duration: Duration(300 * time.Millisecond)}
	recv := window
	recv.Kind, recv.Targets, recv.Conns, recv.DialConcurrency, recv.Grace = KindReceive, []string{info.WS}, 3, 3, Duration(300*time.Millisecond)
	r := serveJob(t, recv)
	ids := r.event(EventConnected).IDs
	if len(ids) != 3 || ids[0] == "" {
		t.Fatalf("ids = %q", ids)
	}
	post := window
	post.Kind, post.Concurrency = KindPost, 2
	post.Post = loadgen.Post{Endpoint: info.HTTP, IDs: ids, Size: 80, AccessKeyID: "AKID", SecretAccessKey: "secret"}
	p := serveJob(t, post)
	p.event(EventConnected)
	r.send(`{"cmd":"start"}`)
	p.send(`{"cmd":"start"}`)
	posted := p.event(EventResult).Stats
	received := r.event(EventResult).Stats
	if posted.Ops == 0 || posted.Errors != 0 {
		t.Fatalf("post result = %+v", posted)
	}
	if received.Errors != 0 || received.Total != posted.Total {
		t.Fatalf("received %d messages (%d errors %q), posted %d", received.Total, received.Errors, received.ErrorSamples, posted.Total)
	}
	r.send(`{"cmd":"stop"}`)
	p.send(`{"cmd":"stop"}`)
	if err := r.wait(); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(); err != nil {
		t.Fatal(err)
	}
}

func TestBadJobIsFatal(t *testing.T) {
	s := serveJob(t, Job{Kind: "nonsense"})
	e := s.event(EventFatal)
	if !strings.Contains(e.Error, "nonsense") {
		t.Errorf("fatal error %q should name the kind", e.Error)
	}
	if err := s.wait(); err == nil {
		t.Error("Serve should return the error")
	}
}

func TestDurationJSON(t *testing.T) {
	var j Job
	if err := json.Unmarshal([]byte(`{"kind":"echo","warmup":"1.5s","duration":"250ms"}`), &j); err != nil {
		t.Fatal(err)
	}
	if time.Duration(j.Warmup) != 1500*time.Millisecond || time.Duration(j.Duration) != 250*time.Millisecond {
		t.Fatalf("durations = %v %v", j.Warmup, j.Duration)
	}
	out, _ := json.Marshal(j)
	if !strings.Contains(string(out), `"warmup":"1.5s"`) {
		t.Errorf("marshalled %s", out)
	}
}
