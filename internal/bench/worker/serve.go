package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/loadgen"
)

// Serve is the worker process: it reads the job from in, runs it, and
// writes events to out. It returns when told to stop, when in closes, or
// when ctx ends.
func Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	if !sc.Scan() {
		return errors.New("worker: no job on stdin")
	}
	var env envelope
	if err := json.Unmarshal(sc.Bytes(), &env); err != nil || env.Job == nil {
		return fmt.Errorf("worker: bad job line %.200q: %v", sc.Bytes(), err)
	}
	job := *env.Job

	cmds := make(chan string, 4)
	go func() {
		defer close(cmds)
		for sc.Scan() {
			var c command
			if json.Unmarshal(sc.Bytes(), &c) == nil {
				cmds <- c.Cmd
			}
		}
	}()
	enc := json.NewEncoder(out)
	emit := func(e Event) error { return enc.Encode(e) }
	fatal := func(err error) error {
		emit(Event{Type: EventFatal, Error: err.Error()})
		return err
	}

	r, err := prepare(ctx, job)
	if err != nil {
		return fatal(err)
	}
	defer r.close()
	if err := emit(r.connected); err != nil {
		return err
	}
	// Wait for start (or stop).
	select {
	case c, ok := <-cmds:
		if !ok || c != "start" {
			return nil
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	// Run; a stop or the end of stdin cuts it short.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-cmds:
			stopRun()
		case <-runCtx.Done():
		}
	}()
	st := r.run(runCtx, loadgen.NewWindow(time.Now(), time.Duration(job.Warmup), time.Duration(job.Duration)))
	if err := emit(Event{Type: EventResult, Stats: &st}); err != nil {
		return err
	}
	if runCtx.Err() == nil {
		select { // wait for stop
		case <-stopped:
		case <-ctx.Done():
		}
	}
	return nil
}

// running is a prepared job.
type running struct {
	connected Event
	run       func(context.Context, loadgen.Window) loadgen.Stats
	close     func()
}

func prepare(ctx context.Context, job Job) (*running, error) {
	if job.Conns > MaxConns {
		return nil, fmt.Errorf("job asks for %d connections; a worker holds at most %d", job.Conns, MaxConns)
	}
	d := &loadgen.Dialer{Sources: job.Sources}
	conc := max(job.DialConcurrency, 1)
	noRun := func(context.Context, loadgen.Window) loadgen.Stats { return loadgen.Stats{} }
	switch job.Kind {
	case KindIdle:
		conns, st := loadgen.DialIdle(ctx, d, job.Targets, job.First, job.Conns, conc)
		return &running{
			connected: Event{Type: EventConnected, Conns: len(conns), Stats: &st},
			run:       noRun,
			close:     func() { closeRaw(conns) },
		}, nil
	case KindEcho, KindReceive:
		conns, err := loadgen.DialActive(ctx, d, job.Targets, job.First, job.Conns, conc)
		if err != nil {
			return nil, err
		}
		ev := Event{Type: EventConnected, Conns: len(conns)}
		closeAll := func() { closeActive(conns) }
		if job.Kind == KindReceive {
			ids, err := loadgen.WhoAmI(ctx, conns, conc)
			if err != nil {
				closeAll()
				return nil, err
			}
			ev.IDs = ids
			return &running{connected: ev, close: closeAll, run: func(ctx context.Context, w loadgen.Window) loadgen.Stats {
				return loadgen.RunReceive(ctx, conns, w, time.Duration(job.Grace))
			}}, nil
		}
		return &running{connected: ev, close: closeAll, run: func(ctx context.Context, w loadgen.Window) loadgen.Stats {
			return loadgen.RunEcho(ctx, conns, w, job.Echo)
		}}, nil
	case KindHandshakes:
		return &running{connected: Event{Type: EventConnected}, close: func() {}, run: func(ctx context.Context, w loadgen.Window) loadgen.Stats {
			return loadgen.RunHandshakes(ctx, d, job.Targets, job.First, job.Concurrency, w)
		}}, nil
	case KindChurn:
		return &running{connected: Event{Type: EventConnected}, close: func() {}, run: func(ctx context.Context, w loadgen.Window) loadgen.Stats {
			return loadgen.RunChurn(ctx, d, job.Targets, job.First, job.Concurrency, w, job.Echo)
		}}, nil
	case KindPost:
		if len(job.Post.IDs) == 0 {
			return nil, errors.New("post job without connection ids")
		}
		p := job.Post
		p.Clients = max(job.Concurrency, 1)
		return &running{connected: Event{Type: EventConnected}, close: func() {}, run: func(ctx context.Context, w loadgen.Window) loadgen.Stats {
			return loadgen.RunPost(ctx, p, w)
		}}, nil
	}
	return nil, fmt.Errorf("unknown job kind %q", job.Kind)
}

// closeActive closes connections with a close handshake, a few at a time,
// so that the server sees clean closes rather than resets.
func closeActive(conns []*loadgen.Conn) {
	done := make(chan struct{}, 64)
	for i, c := range conns {
		if i >= 64 {
			<-done
		}
		go func() {
			c.CloseNormally(2 * time.Second)
			done <- struct{}{}
		}()
	}
	for range min(len(conns), 64) {
		<-done
	}
}

func closeRaw(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}
