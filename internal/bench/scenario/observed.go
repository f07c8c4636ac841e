package scenario

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/gateway"
	"github.com/switchboardgw/switchboard/internal/bench/loadgen"
	"github.com/switchboardgw/switchboard/internal/bench/probe"
	"github.com/switchboardgw/switchboard/internal/bench/report"
)

// observed is a gateway with access logs (gateway.AccessLogFormat, to a
// file in the run's directory) and metrics on. After each run against it
// (outside the measured window), it scrapes /metrics and rotates the access
// log (rename, then SIGHUP, which makes the gateway write out what it holds
// and reopen the path), counts the rotated file's lines and deletes it; at
// the stop it counts what the gateway wrote after the last rotation. check
// then compares the load generator's counts, the metrics and the log.
type observed struct {
	logPath string
	srv     *server
	runs    []*observedRun
	// in and out are MessageCount at the last scrape; scraped says whether
	// the scrape after the last run succeeded (the counters start at 0).
	in, out float64
	scraped bool
	// broken is why the access log could not be rotated or counted; once
	// set, its counts are not reported.
	broken error
	// tail counts the lines written after the last rotation (counted with
	// the last run).
	tail logCount
}

// observedRun is one run against the observed gateway.
type observedRun struct {
	v variant
	// The load generator's side.
	failed  error
	replies int64 // replies received (closed loop: messages sent and answered)
	errors  int64
	// unanswered bounds the messages that may have been sent without a
	// reply coming back: each error leaves at most the in-flight count.
	unanswered int64
	// The gateway's side: MessageCount's growth over the run (NaN when a
	// scrape failed), and the access log's lines.
	in, out float64
	log     logCount
}

// observedName is the echo scenario's system with access logs and metrics.
const observedName = "switchboard logs+metrics"

// start starts the gateway, replacing its stop with one that counts the
// access log's last lines after the stop and deletes the log.
func (o *observed) start(ctx context.Context, e *Env, name string, cfg gateway.Config) ([]*server, error) {
	o.logPath = filepath.Join(e.Dir, name+"-access.log")
	cfg.AccessLog, cfg.Metrics = o.logPath, true
	s, err := e.startGateway(ctx, name, cfg)
	if err != nil {
		os.Remove(o.logPath)
		return nil, err
	}
	o.srv = s
	stop := s.stop
	s.stop = func() error {
		err := stop() // closing the access log writes every line it accepted
		if o.broken == nil {
			var cerr error
			if o.tail, cerr = countAccessLog(o.logPath); cerr != nil {
				o.broken = cerr
			}
			if len(o.runs) > 0 {
				o.runs[len(o.runs)-1].log.add(o.tail)
			}
		}
		rotated, _ := filepath.Glob(o.logPath + ".*")
		for _, path := range append(rotated, o.logPath) {
			if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
				err = rerr
			}
		}
		return err
	}
	return []*server{s}, nil
}

// observe records one run: the load generator's counts, the metrics'
// growth and the access log's lines.
func (o *observed) observe(v variant, st *loadgen.Stats, err error) {
	r := o.record(v, st, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, merr := probe.ReadMetrics(ctx, o.srv.gw.Metrics)
	if merr == nil {
		in, _ := m.Sum("switchboard_message_count_total", "direction", "in")
		out, _ := m.Sum("switchboard_message_count_total", "direction", "out")
		if o.scraped || len(o.runs) == 1 { // else the growth spans runs
			r.in, r.out = in-o.in, out-o.out
		}
		o.in, o.out = in, out
	}
	o.scraped = merr == nil
	if o.broken == nil {
		r.log, o.broken = o.rotate(ctx, len(o.runs))
	}
}

// record adds a run with the load generator's counts; the gateway's are
// still unknown.
func (o *observed) record(v variant, st *loadgen.Stats, err error) *observedRun {
	r := &observedRun{v: v, failed: err, in: math.NaN(), out: math.NaN()}
	if st != nil {
		r.replies, r.errors = st.Total, st.Errors
		r.unanswered = st.Errors * int64(max(v.job.Echo.Inflight, 1))
	}
	o.runs = append(o.runs, r)
	return r
}

// rotate renames the access log to PATH.n, makes the gateway reopen PATH
// (SIGHUP), waits for it to appear, and counts and deletes PATH.n.
func (o *observed) rotate(ctx context.Context, n int) (logCount, error) {
	old := fmt.Sprintf("%s.%d", o.logPath, n)
	if err := os.Rename(o.logPath, old); err != nil {
		return logCount{}, fmt.Errorf("rotate the access log: %w", err)
	}
	if err := o.srv.gw.Signal(syscall.SIGHUP); err != nil {
		return logCount{}, fmt.Errorf("rotate the access log: %w", err)
	}
	// The writer writes out its lines to the old file before it opens the
	// path again.
	for {
		if _, err := os.Stat(o.logPath); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return logCount{}, fmt.Errorf("the gateway did not reopen its access log after SIGHUP: %w", ctx.Err())
		case <-o.srv.gw.Done():
			return logCount{}, fmt.Errorf("the gateway exited on SIGHUP: %v", o.srv.gw.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	c, err := countAccessLog(old)
	if err == nil {
		err = os.Remove(old)
	}
	return c, err
}

// check adds to sc what the metrics and the access log counted, against
// the load generator: a check of the metrics, one of the access log's
// missing lines per load, and notes.
func (o *observed) check(sc *report.Scenario) {
	n := func(v float64) string { return report.Format(v, "int") }
	var replies, errs, unanswered, conns int64
	var failed []string
	for _, r := range o.runs {
		replies, errs, unanswered = replies+r.replies, errs+r.errors, unanswered+r.unanswered
		conns += int64(r.v.job.Conns)
		if r.failed != nil {
			failed = append(failed, r.v.label)
		}
	}

	// The whole run is counted on both sides (warm-up and drain included),
	// so they match exactly unless errors left messages unanswered.
	const what = "logs+metrics: /metrics MessageCount in, out vs messages the load generator sent, got back (largest gap)"
	switch {
	case len(o.runs) == 0:
	case len(failed) > 0:
		sc.Checks = append(sc.Checks, report.Skip(what, "msgs", "<=", float64(unanswered),
			"runs failed ("+strings.Join(failed, ", ")+"): the load generator's counts are incomplete"))
	case !o.scraped:
		sc.Checks = append(sc.Checks, report.Skip(what, "msgs", "<=", float64(unanswered), "the last scrape of /metrics failed"))
	default:
		gap := max(math.Abs(o.in-float64(replies)), math.Abs(o.out-float64(replies)))
		sc.Checks = append(sc.Checks, report.NewCheck(what, gap, "msgs", "<=", float64(unanswered)))
	}
	sc.Notef("%s, whole run (warm-up and drain included): the load generator opened %s connections and got %s replies "+
		"(%d errors); /metrics counted MessageCount in %s and out %s",
		observedName, n(float64(conns)), n(float64(replies)), errs, n(o.in), n(o.out))

	if o.broken != nil {
		sc.Checks = append(sc.Checks, report.Skip("logs+metrics: access log lines missing", "lines", "", 0, o.broken.Error()))
		return
	}
	// One CONNECT line per connection and a MESSAGE line per message; no
	// $disconnect route, so no DISCONNECT lines. The writer's own drop
	// counter is not exposed: the file is what tells.
	type load struct {
		expected, missing float64
		log               logCount
	}
	byLoad := map[string]*load{}
	var total logCount
	var labels []string
	for _, r := range o.runs {
		messages := r.in
		if math.IsNaN(messages) {
			messages = float64(r.replies)
		}
		expected := float64(r.v.job.Conns) + messages
		missing := expected - float64(r.log.connect+r.log.message)
		l := byLoad[r.v.label]
		if l == nil {
			l = &load{}
			byLoad[r.v.label] = l
			labels = append(labels, r.v.label)
		}
		l.expected += expected
		l.missing += missing
		l.log.add(r.log)
		total.add(r.log)
	}
	for _, label := range labels {
		l := byLoad[label]
		sc.Checks = append(sc.Checks, report.NewCheck(fmt.Sprintf("logs+metrics: access log lines missing at %s (of connections + messages in)", label),
			l.missing, "lines", "", 0))
		var extra string
		if l.log.other > 0 || l.log.invalid > 0 {
			extra = fmt.Sprintf(", other %s, not the format's JSON %s", n(float64(l.log.other)), n(float64(l.log.invalid)))
		}
		missing := fmt.Sprintf("%s missing", n(l.missing))
		if l.missing > 0 {
			missing = fmt.Sprintf("**%s missing (%.2f%%)**: dropped by the writer, whose 1 MiB buffer was full "+
				"because the writes to the file fell behind, or lost to a failed write", n(l.missing), 100*report.Ratio(l.missing, l.expected))
		}
		sc.Notef("%s access log at %s: %s lines (CONNECT %s, MESSAGE %s%s) of %s expected, %s",
			observedName, label, n(float64(l.log.lines)), n(float64(l.log.connect)), n(float64(l.log.message)), extra,
			n(l.expected), missing)
	}
	sc.Notef("%s access log: %s lines, %.1f MiB in all, rotated after each run (SIGHUP) and deleted after counting; "+
		"%s lines written after the last rotation counted with the last run",
		observedName, n(float64(total.lines)), float64(total.bytes)/(1<<20), n(float64(o.tail.lines)))
	if total.invalid > 0 {
		sc.Notef("**%s: %s access log lines are not the format's JSON**, e.g. %.200q", observedName, n(float64(total.invalid)), total.firstInvalid)
	}
}

// logCount is what countAccessLog found.
type logCount struct {
	lines, bytes            int64
	connect, message, other int64
	invalid                 int64 // not JSON, or not the format's fields
	firstInvalid            string
}

func (c *logCount) add(o logCount) {
	c.lines += o.lines
	c.bytes += o.bytes
	c.connect += o.connect
	c.message += o.message
	c.other += o.other
	c.invalid += o.invalid
	if c.firstInvalid == "" {
		c.firstInvalid = o.firstInvalid
	}
}

// accessLogFields are the JSON keys of gateway.AccessLogFormat.
var accessLogFields = func() []string {
	var m map[string]string
	if err := json.Unmarshal([]byte(gateway.AccessLogFormat), &m); err != nil {
		panic("gateway.AccessLogFormat is not JSON: " + err.Error())
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}()

// fullCheckLines is how many lines countAccessLog decodes whole; the
// others are checked with json.Valid and a search for each key.
const fullCheckLines = 1000

// countAccessLog counts the lines of the access log at path by event type,
// and the lines that are not JSON objects with accessLogFields.
func countAccessLog(path string) (logCount, error) {
	var c logCount
	f, err := os.Open(path)
	if err != nil {
		return c, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	keys := make([][]byte, len(accessLogFields))
	for i, k := range accessLogFields {
		keys[i] = []byte(`"` + k + `":`)
	}
	for sc.Scan() {
		line := sc.Bytes()
		c.lines++
		c.bytes += int64(len(line)) + 1
		if !validLine(line, keys, c.lines <= fullCheckLines) {
			c.invalid++
			if c.firstInvalid == "" {
				c.firstInvalid = string(line)
			}
			continue
		}
		switch eventType(line) {
		case "CONNECT":
			c.connect++
		case "MESSAGE":
			c.message++
		default:
			c.other++
		}
	}
	return c, sc.Err()
}

// validLine reports whether line is a JSON object with the format's keys:
// decoded whole when full, else with json.Valid and a search for each key.
func validLine(line []byte, keys [][]byte, full bool) bool {
	if full {
		var m map[string]string
		if json.Unmarshal(line, &m) != nil || len(m) != len(accessLogFields) {
			return false
		}
		for _, k := range accessLogFields {
			if _, ok := m[k]; !ok {
				return false
			}
		}
		return true
	}
	if !json.Valid(line) {
		return false
	}
	for _, k := range keys {
		if !bytes.Contains(line, k) {
			return false
		}
	}
	return true
}

// eventType is the value of the line's "eventType" member ("" if none).
func eventType(line []byte) string {
	const key = `"eventType":"`
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return ""
	}
	v := line[i+len(key):]
	end := bytes.IndexByte(v, '"')
	if end < 0 {
		return ""
	}
	return string(v[:end])
}
