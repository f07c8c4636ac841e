package metrics

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

const dashboardPath = "../../deploy/grafana-dashboard.json"

type dashboard struct {
	SchemaVersion int     `json:"schemaVersion"`
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
			Datasource *datasourceRef  `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *datasourceRef           `json:"datasource"`
	GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
	Panels     []panel                  `json:"panels"` // a collapsed row's
	Targets    []struct {
		Expr       string         `json:"expr"`
		RefID      string         `json:"refId"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// metricRef finds the metric names an expression uses: every name of ours,
// of the Go collector and of the process collector.
var metricRef = regexp.MustCompile(`\b(?:switchboard|go|process)_[a-zA-Z0-9_]+\b`)

// TestDashboard checks deploy/grafana-dashboard.json: valid JSON, the
// variables it promises, a Prometheus data source from the variable on every
// panel, and every metric it queries registered by New — and every
// switchboard_ metric New registers shown somewhere.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	if dec.More() {
		t.Fatalf("%s: data after the dashboard", dashboardPath)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d, want a recent one (>= 36)", d.SchemaVersion)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard without uid or title")
	}

	families := registeredFamilies(t)

	vars := map[string]string{}
	var exprs []string
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Type == "query" {
			if v.Datasource == nil || v.Datasource.UID != "${datasource}" {
				t.Errorf("variable %s: data source %+v, want ${datasource}", v.Name, v.Datasource)
			}
			exprs = append(exprs, v.Definition)
		}
	}
	for name, typ := range map[string]string{"datasource": "datasource", "api": "query", "stage": "query", "route": "query"} {
		if vars[name] != typ {
			t.Errorf("variable %s: type %q, want %q", name, vars[name], typ)
		}
	}

	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
			}
			ids[p.ID] = true
			if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("panel %q: gridPos %+v", p.Title, p.GridPos)
			}
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: data source %+v", p.Title, p.Datasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q: no targets", p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Expr == "" || tg.RefID == "" {
					t.Errorf("panel %q: target without expr or refId", p.Title)
				}
				if !strings.Contains(tg.Expr, `api=~"$api"`) || !strings.Contains(tg.Expr, `stage=~"$stage"`) {
					t.Errorf("panel %q: %s ignores the api or stage variable", p.Title, tg.Expr)
				}
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	walk(d.Panels)

	used := map[string]bool{}
	for _, e := range exprs {
		if err := balanced(e); err != nil {
			t.Errorf("%s: %v", e, err)
		}
		names := metricRef.FindAllString(e, -1)
		if len(names) == 0 {
			t.Errorf("%s: no metric", e)
		}
		for _, name := range names {
			family, ok := resolveFamily(families, name)
			if !ok {
				t.Errorf("%s: metric %s is not registered", e, name)
				continue
			}
			used[family] = true
		}
	}
	for name := range families {
		if strings.HasPrefix(name, "switchboard_") && !used[name] {
			t.Errorf("metric %s is on no panel", name)
		}
	}
}

// registeredFamilies gathers what New registers with every option given.
func registeredFamilies(t *testing.T) map[string]dto.MetricType {
	t.Helper()
	m := newTest(t, testOptions())
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]dto.MetricType{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf.GetType()
	}
	for _, want := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := out[want]; !ok {
			t.Errorf("%s not registered: Go or process collector missing", want)
		}
	}
	return out
}

// resolveFamily maps a series name to its family: itself, or a histogram's
// or summary's _bucket, _sum and _count.
func resolveFamily(families map[string]dto.MetricType, name string) (string, bool) {
	if _, ok := families[name]; ok {
		return name, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		switch families[base] {
		case dto.MetricType_HISTOGRAM:
			return base, true
		case dto.MetricType_SUMMARY:
			if suffix != "_bucket" {
				return base, true
			}
		}
	}
	return "", false
}

// balanced reports unbalanced brackets and quotes, the mistakes a
// hand-edited PromQL expression most often has.
func balanced(expr string) error {
	var stack []rune
	inQuote := false
	for _, r := range expr {
		if inQuote {
			if r == '"' {
				inQuote = false
			}
			continue
		}
		switch r {
		case '"':
			inQuote = true
		case '(', '{', '[':
			stack = append(stack, r)
		case ')', '}', ']':
			open := map[rune]rune{')': '(', '}': '{', ']': '['}[r]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return errUnbalanced
			}
			stack = stack[:len(stack)-1]
		}
	}
	if inQuote || len(stack) > 0 {
		return errUnbalanced
	}
	return nil
}

var errUnbalanced = errors.New("unbalanced brackets or quotes")
