package scenario

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboardgw/switchboard/internal/bench/loadgen"
	"github.com/switchboardgw/switchboard/internal/bench/report"
)

func TestCountAccessLog(t *testing.T) {
	line := func(event string) string {
		return `{"requestId":"r1","ip":"127.0.0.1","requestTime":"24/Nov/2026:10:00:00 +0000","eventType":"` + event +
			`","routeKey":"$default","status":"200","connectionId":"c1","integrationLatency":"0"}`
	}
	var lines []string
	for range fullCheckLines + 5 { // past the lines decoded whole
		lines = append(lines, line("MESSAGE"))
	}
	lines = append(lines, line("CONNECT"), line("DISCONNECT"), `{"requestId":"r1"}`, `not json`, line("MESSAGE")[:40])
	path := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := countAccessLog(path)
	if err != nil {
		t.Fatal(err)
	}
	want := logCount{lines: int64(len(lines)), connect: 1, message: fullCheckLines + 5, other: 1, invalid: 3}
	c.bytes, c.firstInvalid = 0, ""
	if c != want {
		t.Errorf("count = %+v, want %+v", c, want)
	}
	// The same checks on a line decoded whole and on one that is not.
	keys := make([][]byte, len(accessLogFields))
	for i, k := range accessLogFields {
		keys[i] = []byte(`"` + k + `":`)
	}
	for _, full := range []bool{true, false} {
		if !validLine([]byte(line("MESSAGE")), keys, full) {
			t.Errorf("full=%v: a line of the format is invalid", full)
		}
		for _, bad := range []string{`{"requestId":"r1"}`, line("MESSAGE") + "x", strings.Replace(line("CONNECT"), `"ip"`, `"ipx"`, 1)} {
			if validLine([]byte(bad), keys, full) {
				t.Errorf("full=%v: %s accepted", full, bad)
			}
		}
	}
	if _, err := countAccessLog(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing file should be an error")
	}
}

// TestObservedCheck feeds two runs and the gateway's counts to check.
func TestObservedCheck(t *testing.T) {
	one := echoLoad("10 × 1 in flight", 10, loadgen.Echo{Inflight: 1})
	eight := echoLoad("10 × 8 in flight", 10, loadgen.Echo{Inflight: 8})
	o := &observed{in: 3000, out: 3000, scraped: true}
	r := o.record(one, &loadgen.Stats{Total: 1000}, nil)
	r.in, r.out, r.log = 1000, 1000, logCount{lines: 1010, connect: 10, message: 1000}
	r = o.record(eight, &loadgen.Stats{Total: 2000, Errors: 1}, nil)
	r.in, r.out, r.log = 2000, 2000, logCount{lines: 1510, connect: 10, message: 1500}
	if r.unanswered != 8 {
		t.Errorf("an error at 8 in flight leaves up to %d messages unanswered, want 8", r.unanswered)
	}
	r.errors, r.unanswered = 0, 0
	sc := &report.Scenario{}
	o.check(sc)
	got := map[string]report.Check{}
	for _, c := range sc.Checks {
		got[c.Name] = c
	}
	m := got["logs+metrics: /metrics MessageCount in, out vs messages the load generator sent, got back (largest gap)"]
	if m.Met == nil || !*m.Met || m.Value != 0 {
		t.Errorf("metrics check = %+v", m)
	}
	if c := got["logs+metrics: access log lines missing at 10 × 1 in flight (of connections + messages in)"]; c.Value != 0 {
		t.Errorf("1 in flight: %+v", c)
	}
	if c := got["logs+metrics: access log lines missing at 10 × 8 in flight (of connections + messages in)"]; c.Value != 500 || c.Op != "" {
		t.Errorf("8 in flight: %+v", c)
	}
	if !strings.Contains(strings.Join(sc.Notes, "\n"), "at 10 × 8 in flight: 1,510 lines (CONNECT 10, MESSAGE 1,500) of 2,010 expected, **500 missing (24.88%)**: dropped") {
		t.Errorf("no note about the dropped lines: %q", sc.Notes)
	}

	// A metrics count off by one is a miss; errors widen the slack.
	o.in = 3001
	sc = &report.Scenario{}
	o.check(sc)
	if c := sc.Checks[0]; c.Met == nil || *c.Met || c.Value != 1 {
		t.Errorf("off by one: %+v", c)
	}
	o.runs[1].errors, o.runs[1].unanswered = 1, 8
	sc = &report.Scenario{}
	o.check(sc)
	if c := sc.Checks[0]; c.Met == nil || !*c.Met || c.Target != 8 {
		t.Errorf("with an error: %+v", c)
	}
	// Without a scrape, the log is compared with the replies.
	o.runs[1].in = math.NaN()
	o.scraped = false
	sc = &report.Scenario{}
	o.check(sc)
	if sc.Checks[0].Skipped == "" || sc.Checks[2].Value != 500 {
		t.Errorf("without a scrape: %+v", sc.Checks)
	}
}
