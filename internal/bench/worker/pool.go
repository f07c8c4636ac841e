package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/loadgen"
	"github.com/switchboardgw/switchboard/internal/bench/proc"
)

// Pool is a set of worker processes running one workload together.
type Pool struct {
	procs []*proc.Process
	jobs  []Job
}

// Launch starts one `self worker` process per job and sends each its job.
func Launch(self string, jobs []Job, stderr io.Writer) (*Pool, error) {
	p := &Pool{jobs: jobs}
	for i, job := range jobs {
		w, err := proc.Start(fmt.Sprintf("worker-%s-%d", job.Kind, i), exec.Command(self, "worker"),
			proc.Options{Stdin: true, Stderr: stderr})
		if err != nil {
			p.Stop()
			return nil, err
		}
		p.procs = append(p.procs, w)
		line, _ := json.Marshal(envelope{Job: &job})
		if _, err := fmt.Fprintf(w.Stdin(), "%s\n", line); err != nil {
			p.Stop()
			return nil, fmt.Errorf("send job to %s: %w", w.Name, err)
		}
	}
	return p, nil
}

// Size is the number of workers.
func (p *Pool) Size() int { return len(p.procs) }

// next reads one event of the given type from worker i.
func (p *Pool) next(ctx context.Context, i int, want string) (Event, error) {
	w := p.procs[i]
	line, err := w.ReadLine(ctx)
	if err != nil {
		return Event{}, err
	}
	var e Event
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		return Event{}, fmt.Errorf("%s: bad event %.200q: %w", w.Name, line, err)
	}
	if e.Type == EventFatal {
		return e, fmt.Errorf("%s: %s", w.Name, e.Error)
	}
	if e.Type != want {
		return e, fmt.Errorf("%s: got %q, want %q", w.Name, e.Type, want)
	}
	return e, nil
}

// Connected waits for every worker's connected event.
func (p *Pool) Connected(ctx context.Context) ([]Event, error) {
	return p.collect(ctx, EventConnected)
}

// Start tells every worker to start its window.
func (p *Pool) Start() error { return p.send("start") }

// Results waits for every worker's result.
func (p *Pool) Results(ctx context.Context) ([]Event, error) {
	return p.collect(ctx, EventResult)
}

// Merged waits for the results and merges their stats.
func (p *Pool) Merged(ctx context.Context) (loadgen.Stats, error) {
	evs, err := p.Results(ctx)
	var st loadgen.Stats
	for _, e := range evs {
		if e.Stats != nil {
			st.Merge(e.Stats)
		}
	}
	return st, err
}

func (p *Pool) collect(ctx context.Context, want string) ([]Event, error) {
	evs := make([]Event, len(p.procs))
	errs := make([]error, len(p.procs))
	done := make(chan int, len(p.procs))
	for i := range p.procs {
		go func() {
			evs[i], errs[i] = p.next(ctx, i, want)
			done <- i
		}()
	}
	for range p.procs {
		<-done
	}
	return evs, errors.Join(errs...)
}

func (p *Pool) send(cmd string) error {
	line, _ := json.Marshal(command{Cmd: cmd})
	var errs []error
	for _, w := range p.procs {
		if _, err := fmt.Fprintf(w.Stdin(), "%s\n", line); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", w.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Stop tells every worker to stop, closes their stdin and waits for them
// to close their connections and exit (killing stragglers after 15 s).
func (p *Pool) Stop() error {
	p.send("stop")
	errs := make([]error, len(p.procs))
	done := make(chan struct{}, len(p.procs))
	for i, w := range p.procs {
		go func() {
			errs[i] = w.Close(15 * time.Second)
			done <- struct{}{}
		}()
	}
	for range p.procs {
		<-done
	}
	return errors.Join(errs...)
}

// Split divides a job over as few workers as keep each at or under
// perWorker connections (and at least workers of them): connections,
// storm concurrency and offered rate are shared out, and each share's
// First continues where the previous one ended.
func Split(job Job, workers, perWorker int) []Job {
	perWorker = max(min(perWorker, MaxConns), 1)
	n := max(workers, (job.Conns+perWorker-1)/perWorker, 1)
	jobs := make([]Job, n)
	first := job.First
	for i := range jobs {
		j := job
		j.Conns = share(job.Conns, n, i)
		j.Concurrency = max(share(job.Concurrency, n, i), min(job.Concurrency, 1))
		j.DialConcurrency = max(share(job.DialConcurrency, n, i), min(job.DialConcurrency, 1))
		j.Echo.Rate = job.Echo.Rate / float64(n)
		j.First = first
		first += j.Conns
		if job.Conns == 0 {
			first += 1 << 20 // storms: keep source numbering apart
		}
		jobs[i] = j
	}
	return jobs
}

// share is the i-th of n near-equal parts of total.
func share(total, n, i int) int {
	s := total / n
	if i < total%n {
		s++
	}
	return s
}
