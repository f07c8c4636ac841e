package metrics

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
)

// testRoutes is a route table as the configuration resolves it: route key →
// detailed metrics on. It has routes of both kinds.
var testRoutes = map[string]bool{
	"$connect":    true,
	"$disconnect": false,
	"$default":    false,
	"sendMessage": true,
	"join":        false,
}

// testRouteKeys are testRoutes' keys, sorted.
func testRouteKeys() []string { return slices.Sorted(maps.Keys(testRoutes)) }

func testOptions() Options {
	return Options{
		APIID:           "a1b2c3d4e5",
		Stage:           "prod",
		OpenConnections: func() int { return 7 },
		Session: func() SessionCounts {
			return SessionCounts{SlowClosed: 1, QueueRejected: 2, ProtocolClosed: 3}
		},
		AccessLog: func() (uint64, uint64) { return 4, 5 },
	}
}

func newTest(t *testing.T, opts Options) *Metrics {
	t.Helper()
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// samples gathers reg into "name{l1="v1",...}" → value, labels sorted and
// empty ones dropped (to Prometheus an empty label is no label). A histogram
// appears as its _count and _sum.
func samples(t *testing.T, reg prometheus.Gatherer, prefix string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), prefix) {
			continue
		}
		for _, mt := range mf.GetMetric() {
			var ls []string
			for _, lp := range mt.GetLabel() {
				if lp.GetValue() != "" {
					ls = append(ls, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
				}
			}
			slices.Sort(ls)
			key := "{" + strings.Join(ls, ",") + "}"
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[mf.GetName()+key] = mt.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[mf.GetName()+key] = mt.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[mf.GetName()+"_count"+key] = float64(mt.GetHistogram().GetSampleCount())
				out[mf.GetName()+"_sum"+key] = mt.GetHistogram().GetSampleSum()
			default:
				t.Fatalf("%s: unexpected type %v", mf.GetName(), mf.GetType())
			}
		}
	}
	return out
}

const (
	stageLabels = `{api="a1b2c3d4e5",stage="prod"}`
)

func routeLabels(route string) string {
	return `{api="a1b2c3d4e5",route="` + route + `",stage="prod"}`
}

func msgLabels(route, dir string) string {
	if route == "" {
		return `{api="a1b2c3d4e5",direction="` + dir + `",stage="prod"}`
	}
	return `{api="a1b2c3d4e5",direction="` + dir + `",route="` + route + `",stage="prod"}`
}

func TestCountsAndLabels(t *testing.T) {
	m := newTest(t, testOptions())

	m.Connect()
	m.Connect()
	m.Route("$connect", true).ObserveIntegrationLatency(20 * time.Millisecond)
	m.Route("$connect", true).IntegrationError()

	send := m.Route("sendMessage", true) // detailed
	send.MessageIn()
	send.MessageIn()
	send.MessageOut()
	send.ExecutionError()
	send.ObserveIntegrationLatency(250 * time.Millisecond)

	join := m.Route("join", false) // stage-level
	join.MessageIn()
	join.ClientError()
	join.ObserveIntegrationLatency(time.Second)
	m.Route("$default", false).MessageIn()
	m.Route("", true).MessageIn() // no key to label with: the stage
	m.Stage().MessageOut()        // an @connections post

	m.ThrottledMessage()
	m.ThrottledHandshake()
	m.ThrottledHandshake()
	m.ThrottledManagement()
	m.DisconnectDelivered()
	m.DisconnectFailed()
	m.DisconnectFailed()
	m.DisconnectRetried()
	m.DisconnectDropped()

	want := map[string]float64{
		ConnectCountName + stageLabels: 2,

		MessageCountName + msgLabels("", "in"):             3,
		MessageCountName + msgLabels("", "out"):            1,
		MessageCountName + msgLabels("sendMessage", "in"):  2,
		MessageCountName + msgLabels("sendMessage", "out"): 1,
		MessageCountName + msgLabels("$connect", "in"):     0,
		MessageCountName + msgLabels("$connect", "out"):    0,

		IntegrationErrorName + stageLabels:                0,
		IntegrationErrorName + routeLabels("sendMessage"): 0,
		IntegrationErrorName + routeLabels("$connect"):    1,
		ClientErrorName + stageLabels:                     1,
		ClientErrorName + routeLabels("sendMessage"):      0,
		ClientErrorName + routeLabels("$connect"):         0,
		ExecutionErrorName + stageLabels:                  0,
		ExecutionErrorName + routeLabels("sendMessage"):   1,
		ExecutionErrorName + routeLabels("$connect"):      0,

		IntegrationLatencyName + "_count" + stageLabels:                1,
		IntegrationLatencyName + "_sum" + stageLabels:                  1,
		IntegrationLatencyName + "_count" + routeLabels("sendMessage"): 1,
		IntegrationLatencyName + "_sum" + routeLabels("sendMessage"):   0.25,
		IntegrationLatencyName + "_count" + routeLabels("$connect"):    1,
		IntegrationLatencyName + "_sum" + routeLabels("$connect"):      0.02,

		OpenConnectionsName + stageLabels:   7,
		ReadyName + stageLabels:             0,
		SlowClientClosedName + stageLabels:  1,
		SendQueueRejectedName + stageLabels: 2,
		ProtocolClosedName + stageLabels:    3,

		AccessLogDroppedName + `{api="a1b2c3d4e5",reason="buffer_full",stage="prod"}`:  4,
		AccessLogDroppedName + `{api="a1b2c3d4e5",reason="write_failed",stage="prod"}`: 5,

		ThrottledName + `{api="a1b2c3d4e5",kind="message",stage="prod"}`:    1,
		ThrottledName + `{api="a1b2c3d4e5",kind="handshake",stage="prod"}`:  2,
		ThrottledName + `{api="a1b2c3d4e5",kind="management",stage="prod"}`: 1,

		DisconnectDeliveryName + `{api="a1b2c3d4e5",outcome="delivered",stage="prod"}`: 1,
		DisconnectDeliveryName + `{api="a1b2c3d4e5",outcome="failed",stage="prod"}`:    2,
		DisconnectDeliveryName + `{api="a1b2c3d4e5",outcome="retried",stage="prod"}`:   1,
		DisconnectDeliveryName + `{api="a1b2c3d4e5",outcome="dropped",stage="prod"}`:   1,
	}
	got := samples(t, m.Registry(), "switchboard_")
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("missing %s", k)
			continue
		}
		if g != v {
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected series %s", k)
		}
	}
}

// TestDetailedAndStageRoutes builds a route table where every route but
// $default has detailed metrics (a stage default of on, overridden off for
// one route).
func TestDetailedAndStageRoutes(t *testing.T) {
	m := newTest(t, testOptions())

	table := map[string]*RouteMetrics{}
	for _, key := range testRouteKeys() {
		table[key] = m.Route(key, key != "$default")
	}
	if table["$default"] != m.Stage() {
		t.Error("$default, not detailed, should share the stage handle")
	}
	seen := map[*RouteMetrics]string{}
	for _, key := range []string{"$connect", "$disconnect", "sendMessage", "join"} {
		r := table[key]
		if r == nil || r == m.Stage() {
			t.Errorf("%s: got %p (stage %p), want its own handle", key, r, m.Stage())
			continue
		}
		if other, ok := seen[r]; ok {
			t.Errorf("%s and %s share a handle", key, other)
		}
		seen[r] = key
	}
	table["join"].MessageIn()
	table["$default"].MessageIn()
	got := samples(t, m.Registry(), MessageCountName)
	if v := got[MessageCountName+msgLabels("join", "in")]; v != 1 {
		t.Errorf("join in = %v, want 1", v)
	}
	if v := got[MessageCountName+msgLabels("", "in")]; v != 1 {
		t.Errorf("stage in = %v, want 1", v)
	}
	if _, ok := got[MessageCountName+msgLabels("$default", "in")]; ok {
		t.Error("$default has a route series although not detailed")
	}
}

func TestNotDetailedHasNoRouteLabel(t *testing.T) {
	m := newTest(t, testOptions())
	keys := testRouteKeys()
	for _, key := range keys {
		r := m.Route(key, false)
		if r != m.Stage() {
			t.Errorf("%s: want the stage handle", key)
		}
		r.MessageIn()
	}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if lp.GetName() == "route" && lp.GetValue() != "" {
					t.Errorf("%s has route=%q", mf.GetName(), lp.GetValue())
				}
			}
		}
	}
	if v := samples(t, m.Registry(), MessageCountName)[MessageCountName+msgLabels("", "in")]; v != float64(len(keys)) {
		t.Errorf("stage in = %v, want %d", v, len(keys))
	}
}

func TestOptionalCallbacks(t *testing.T) {
	opts := testOptions()
	opts.OpenConnections = nil
	opts.Session = nil
	m := newTest(t, opts)
	for k := range samples(t, m.Registry(), "switchboard_") {
		for _, name := range []string{OpenConnectionsName, SlowClientClosedName, SendQueueRejectedName, ProtocolClosedName} {
			if strings.HasPrefix(k, name+"{") {
				t.Errorf("%s registered without its callback", k)
			}
		}
	}
}

func TestCallbacksReadAtScrape(t *testing.T) {
	var mu sync.Mutex
	open := 0
	opts := testOptions()
	opts.OpenConnections = func() int { mu.Lock(); defer mu.Unlock(); return open }
	m := newTest(t, opts)
	for _, want := range []int{0, 3, 1} {
		mu.Lock()
		open = want
		mu.Unlock()
		if got := samples(t, m.Registry(), OpenConnectionsName)[OpenConnectionsName+stageLabels]; got != float64(want) {
			t.Errorf("open connections = %v, want %d", got, want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no api", func(o *Options) { o.APIID = "" }, "APIID is empty"},
		{"no stage", func(o *Options) { o.Stage = "" }, "Stage is empty"},
		{"buckets", func(o *Options) { o.LatencyBuckets = []float64{1, 0.5} }, "LatencyBuckets[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions()
			tc.edit(&opts)
			_, err := New(opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestCustomBuckets(t *testing.T) {
	opts := testOptions()
	opts.LatencyBuckets = []float64{0.1, 1}
	m := newTest(t, opts)
	m.Route("sendMessage", true).ObserveIntegrationLatency(50 * time.Millisecond)
	m.Stage().ObserveIntegrationLatency(50 * time.Millisecond)
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != IntegrationLatencyName {
			continue
		}
		for _, mt := range mf.GetMetric() {
			if n := len(mt.GetHistogram().GetBucket()); n != 2 {
				t.Errorf("%d buckets, want 2", n)
			}
		}
	}
}

func TestNilIsNoop(t *testing.T) {
	var m *Metrics
	m.Connect()
	m.ThrottledMessage()
	m.ThrottledHandshake()
	m.ThrottledManagement()
	m.DisconnectDelivered()
	m.DisconnectFailed()
	m.DisconnectRetried()
	m.DisconnectDropped()
	r := m.Route("sendMessage", true)
	if r != nil || m.Route("sendMessage", false) != nil || m.Stage() != nil {
		t.Fatal("nil Metrics handed out a handle")
	}
	r.MessageIn()
	r.MessageOut()
	r.IntegrationError()
	r.ClientError()
	r.ExecutionError()
	r.ObserveIntegrationLatency(time.Millisecond)
}

// connectionIDLike matches the shape of API Gateway's (and the registry's)
// connection, request and message ids: 15 URL-safe base64 characters and
// "=", as in "XDmENcnwIE0CFEQ=".
var connectionIDLike = regexp.MustCompile(`^[A-Za-z0-9_-]{15}=$`)

func TestLabelsCarryNoConnectionIDs(t *testing.T) {
	if !connectionIDLike.MatchString("XDmENcnwIE0CFEQ=") {
		t.Fatal("connectionIDLike does not match an AWS connection id")
	}
	opts := testOptions()
	m := newTest(t, opts)
	// Traffic through every handle, with every configured route detailed. A
	// key given without detailed metrics never becomes a label value, so
	// whatever ends up in a label came from Options, the route table or the
	// package.
	handles := []*RouteMetrics{m.Route("XDmENcnwIE0CFEQ=", false)}
	for _, key := range testRouteKeys() {
		handles = append(handles, m.Route(key, true))
	}
	for _, r := range handles {
		r.MessageIn()
		r.MessageOut()
		r.ClientError()
		r.ObserveIntegrationLatency(time.Millisecond)
	}

	allowed := map[string][]string{
		"api":       {opts.APIID},
		"stage":     {opts.Stage},
		"route":     append([]string{""}, testRouteKeys()...),
		"direction": {"in", "out"},
		"kind":      {"message", "handshake", "management"},
		"outcome":   {"delivered", "failed", "retried", "dropped"},
		"reason":    {"buffer_full", "write_failed"},
	}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "switchboard_") {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				name, value := lp.GetName(), lp.GetValue()
				vals, ok := allowed[name]
				if !ok {
					t.Errorf("%s: unexpected label %s=%q", mf.GetName(), name, value)
					continue
				}
				if !slices.Contains(vals, value) {
					t.Errorf("%s: label %s=%q not from the configuration", mf.GetName(), name, value)
				}
				if connectionIDLike.MatchString(value) {
					t.Errorf("%s: label %s=%q looks like a connection id", mf.GetName(), name, value)
				}
			}
		}
	}
}

func TestLint(t *testing.T) {
	m := newTest(t, testOptions())
	for key, detailed := range testRoutes {
		m.Route(key, detailed)
	}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	mfs = slices.DeleteFunc(mfs, func(mf *dto.MetricFamily) bool {
		return !strings.HasPrefix(mf.GetName(), "switchboard_")
	})
	if len(mfs) != 14 {
		t.Errorf("%d switchboard_ families, want 14", len(mfs))
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestConcurrentCountsAndScrapes counts from many goroutines while scraping;
// run with -race.
func TestConcurrentCountsAndScrapes(t *testing.T) {
	m := newTest(t, testOptions())
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			r := m.Route("sendMessage", true)
			for range each {
				r.MessageIn()
				m.ThrottledMessage()
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if _, err := m.Registry().Gather(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Go(func() {
		for i := range 100 {
			m.SetReady(i%2 == 0)
		}
	})
	wg.Wait()
	got := samples(t, m.Registry(), "switchboard_")
	if v := got[MessageCountName+msgLabels("sendMessage", "in")]; v != workers*each {
		t.Errorf("messages = %v, want %d", v, workers*each)
	}
	if v := got[ThrottledName+`{api="a1b2c3d4e5",kind="message",stage="prod"}`]; v != workers*each {
		t.Errorf("throttled = %v, want %d", v, workers*each)
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	m := newTest(t, testOptions())
	detailed, stage := m.Route("sendMessage", true), m.Route("join", false)
	for name, f := range map[string]func(){
		"MessageIn detailed": detailed.MessageIn,
		"MessageOut stage":   stage.MessageOut,
		"IntegrationError":   detailed.IntegrationError,
		"ClientError":        stage.ClientError,
		"ExecutionError":     detailed.ExecutionError,
		"IntegrationLatency": func() { detailed.ObserveIntegrationLatency(3 * time.Millisecond) },
		"Connect":            m.Connect,
		"ThrottledMessage":   m.ThrottledMessage,
		"DisconnectDropped":  m.DisconnectDropped,
		"nil RouteMetrics":   (*RouteMetrics)(nil).MessageIn,
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocs per call, want 0", name, n)
		}
	}
}

// TestNilHandlerReadyRegistry: the gateway holds a nil *Metrics when the
// configuration has no metrics section; every method must be safe on it.
func TestNilHandlerReadyRegistry(t *testing.T) {
	var m *Metrics
	for name, f := range map[string]func() bool{
		"Handler":  func() bool { return m.Handler() == nil },
		"Ready":    func() bool { return !m.Ready() },
		"Registry": func() bool { return m.Registry() == nil },
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s on a nil *Metrics panicked: %v", name, p)
				}
			}()
			if !f() {
				t.Errorf("%s on a nil *Metrics: want nil or false", name)
			}
		}()
	}
}

// TestNewRejectsInvalidUTF8: Prometheus label values must be UTF-8; New
// reports an api id or stage that is not, rather than panicking.
func TestNewRejectsInvalidUTF8(t *testing.T) {
	for _, opts := range []Options{
		{APIID: "a\xff", Stage: "s"},
		{APIID: "a", Stage: "s\xff"},
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("New(%+v) panicked: %v", opts, p)
				}
			}()
			if _, err := New(opts); err == nil || !strings.Contains(err.Error(), "UTF-8") {
				t.Errorf("New(%+v): %v, want an error about UTF-8", opts, err)
			}
		}()
	}
}

// TestRouteHandles: a detailed route's handle is made once and labelled with
// its key; everything that cannot or should not carry a route label gets the
// stage handle.
func TestRouteHandles(t *testing.T) {
	m := newTest(t, testOptions())

	r := m.Route("k", true)
	if r == nil || r == m.Stage() {
		t.Fatalf("Route(k, true) = %p, want a handle of its own (stage %p)", r, m.Stage())
	}
	if again := m.Route("k", true); again != r {
		t.Errorf("second Route(k, true) = %p, want the first one, %p", again, r)
	}
	r.MessageIn()
	r.MessageIn()
	r.ClientError()
	got := samples(t, m.Registry(), "switchboard_")
	if v := got[MessageCountName+msgLabels("k", "in")]; v != 2 {
		t.Errorf(`messages in route="k" = %v, want 2`, v)
	}
	if v := got[ClientErrorName+routeLabels("k")]; v != 1 {
		t.Errorf(`client errors route="k" = %v, want 1`, v)
	}
	if v := got[MessageCountName+msgLabels("", "in")]; v != 0 {
		t.Errorf("stage messages in = %v, want 0", v)
	}

	if s := m.Route("k", false); s != m.Stage() {
		t.Errorf("Route(k, false) = %p, want Stage() %p", s, m.Stage())
	}
	for _, key := range []string{"", "send\xff", "\xc3("} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("Route(%q, true) panicked: %v", key, p)
				}
			}()
			if s := m.Route(key, true); s != m.Stage() {
				t.Errorf("Route(%q, true) = %p, want Stage() %p", key, s, m.Stage())
			}
		}()
	}
	if _, err := m.Registry().Gather(); err != nil {
		t.Errorf("gather after invalid keys: %v", err)
	}

	var nilMetrics *Metrics
	if h := nilMetrics.Route("k", true); h != nil {
		t.Errorf("nil Metrics: Route(k, true) = %p, want nil", h)
	}
}

// TestRouteSurvivesReload: a route table rebuilt without a detailed route
// leaves its series in place, and a later table that brings the route back
// gets the same handle, so its counters go on from where they were.
func TestRouteSurvivesReload(t *testing.T) {
	m := newTest(t, testOptions())
	first := m.Route("sendMessage", true)
	first.MessageIn()

	// The reload drops sendMessage and adds a detailed route.
	m.Route("$default", false)
	m.Route("other", true).MessageIn()
	if v := samples(t, m.Registry(), MessageCountName)[MessageCountName+msgLabels("sendMessage", "in")]; v != 1 {
		t.Errorf("sendMessage in after it left the table = %v, want 1", v)
	}

	// The next reload brings it back.
	back := m.Route("sendMessage", true)
	if back != first {
		t.Errorf("sendMessage came back with handle %p, want %p", back, first)
	}
	back.MessageIn()
	got := samples(t, m.Registry(), MessageCountName)
	if v := got[MessageCountName+msgLabels("sendMessage", "in")]; v != 2 {
		t.Errorf("sendMessage in = %v, want 2", v)
	}
	if v := got[MessageCountName+msgLabels("other", "in")]; v != 1 {
		t.Errorf("other in = %v, want 1", v)
	}
}

// TestRouteConcurrent builds route tables from many goroutines at once, as
// overlapping reloads might; every caller must get the one handle per key.
// Run with -race.
func TestRouteConcurrent(t *testing.T) {
	m := newTest(t, testOptions())
	const workers = 8
	keys := []string{"a", "b", "c", "d"}
	got := make([][]*RouteMetrics, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for _, key := range keys {
				r := m.Route(key, true)
				r.MessageIn()
				got[w] = append(got[w], r)
			}
		})
	}
	wg.Go(func() {
		if _, err := m.Registry().Gather(); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	counts := samples(t, m.Registry(), MessageCountName)
	for i, key := range keys {
		want := m.Route(key, true)
		for w := range workers {
			if got[w][i] != want {
				t.Errorf("worker %d: %s handle %p, want %p", w, key, got[w][i], want)
			}
		}
		if v := counts[MessageCountName+msgLabels(key, "in")]; v != workers {
			t.Errorf("%s in = %v, want %d", key, v, workers)
		}
	}
}
