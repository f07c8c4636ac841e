package probe

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func TestParseMetrics(t *testing.T) {
	s, err := ParseMetrics([]byte(`# HELP switchboard_message_count_total Messages.
# TYPE switchboard_message_count_total counter
switchboard_message_count_total{api="a",direction="in",route="$default",stage="dev"} 1.2345e+06
switchboard_message_count_total{api="a",direction="out",route="$default",stage="dev"} 1234500
switchboard_message_count_total{api="a",direction="in",stage="dev",} 5 1700000000000
odd{v="a \"quoted\", comma\\ and\nnewline"} +Inf
go_goroutines 12
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 5 {
		t.Fatalf("%d samples: %+v", len(s), s)
	}
	if in, n := s.Sum("switchboard_message_count_total", "direction", "in"); in != 1234505 || n != 2 {
		t.Errorf("in = %v over %d series", in, n)
	}
	if out, _ := s.Sum("switchboard_message_count_total", "direction", "out", "route", "$default"); out != 1234500 {
		t.Errorf("out = %v", out)
	}
	if v, n := s.Sum("go_goroutines"); v != 12 || n != 1 {
		t.Errorf("go_goroutines = %v, %d", v, n)
	}
	if s[3].Labels["v"] != "a \"quoted\", comma\\ and\nnewline" {
		t.Errorf("escaped label = %q", s[3].Labels["v"])
	}
	for _, bad := range []string{"x\n", `x{a="b} 1`, `x{a=b} 1`, "x 1 2 3\n", "x abc\n"} {
		if _, err := ParseMetrics([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestReadMetrics scrapes what the Prometheus client library serves, as
// the gateway does.
func TestReadMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_message_count_total", Help: "h",
		ConstLabels: prometheus.Labels{"api": "x", "stage": "dev"}}, []string{"route", "direction"})
	reg.MustRegister(c, collectors.NewGoCollector())
	c.WithLabelValues("$default", "in").Add(41)
	c.WithLabelValues(`we"ird`, "in").Add(1)
	c.WithLabelValues("$default", "out").Add(40)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	s, err := ReadMetrics(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if in, n := s.Sum("switchboard_message_count_total", "direction", "in", "stage", "dev"); in != 42 || n != 2 {
		t.Errorf("in = %v over %d series", in, n)
	}
	if out, _ := s.Sum("switchboard_message_count_total", "direction", "out"); out != 40 {
		t.Errorf("out = %v", out)
	}
	if _, n := s.Sum("go_goroutines"); n != 1 {
		t.Errorf("go_goroutines: %d series", n)
	}
}
