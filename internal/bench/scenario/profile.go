package scenario

import (
	"fmt"
	"time"
)

// Profile sizes every scenario: smoke (seconds, for tests), quick (`make
// bench`, under two minutes) and full (larger N, longer windows, idle at
// 50,000 connections over several gateways).
type Profile struct {
	Name string
	// Sources is the number of loopback source addresses (127.0.0.1–N).
	Sources int
	// PerProcess is the most connections one gateway, bare server or
	// worker holds (the descriptor limit is 20,000 per process).
	PerProcess int
	// DialConcurrency is the number of dials in flight per worker.
	DialConcurrency int
	// Rounds is how many times each system runs each load of the connect,
	// echo and routed scenarios (taking turns); rows show the median round.
	Rounds int

	Idle    IdleProfile
	Connect ConnectProfile
	Echo    EchoProfile
	Routed  RoutedProfile
	Post    PostProfile
	Churn   ChurnProfile
}

// Window is a warm-up followed by the measured duration.
type Window struct {
	Warmup, Duration time.Duration
}

// IdleProfile sizes the idle scenario.
type IdleProfile struct {
	// Conns lists the connection counts to measure.
	Conns []int
	// TargetConns is the count the per-connection memory target applies to.
	TargetConns int
	// Hold is how long connections stay idle before memory is read.
	Hold time.Duration
}

// ConnectProfile sizes the connect scenario.
type ConnectProfile struct {
	Window
	// Concurrency is the number of handshakes in progress at once.
	Concurrency int
}

// EchoProfile sizes the echo scenario.
type EchoProfile struct {
	Window
	Conns    int
	Inflight []int
	// Rate is the fixed offered rate (messages/s over all connections).
	Rate float64
	Size int
}

// RoutedProfile sizes the routed scenario (and the serverless-offline run).
type RoutedProfile struct {
	Window
	Conns    int
	Inflight int
	Rate     float64
	Size     int
}

// PostProfile sizes the post scenario.
type PostProfile struct {
	Window
	Receivers int
	Clients   int
	Size      int
}

// ChurnProfile sizes the churn scenario.
type ChurnProfile struct {
	Window
	// Steady connections exchange messages (1 in flight) throughout.
	Steady int
	// Concurrency is the number of connect/message/disconnect loops.
	Concurrency int
}

// Profiles are the named profiles.
var Profiles = map[string]Profile{
	"smoke": {
		Name: "smoke", Sources: 8, PerProcess: 18000, DialConcurrency: 8, Rounds: 1,
		Idle:    IdleProfile{Conns: []int{200}, TargetConns: 15000, Hold: 200 * time.Millisecond},
		Connect: ConnectProfile{Window: Window{200 * time.Millisecond, time.Second}, Concurrency: 4},
		Echo:    EchoProfile{Window: Window{300 * time.Millisecond, time.Second}, Conns: 8, Inflight: []int{1, 8}, Rate: 500, Size: 64},
		Routed:  RoutedProfile{Window: Window{300 * time.Millisecond, time.Second}, Conns: 8, Inflight: 1, Rate: 500, Size: 64},
		Post:    PostProfile{Window: Window{300 * time.Millisecond, time.Second}, Receivers: 8, Clients: 4, Size: 64},
		Churn:   ChurnProfile{Window: Window{300 * time.Millisecond, time.Second}, Steady: 8, Concurrency: 2},
	},
	"quick": {
		Name: "quick", Sources: 8, PerProcess: 18000, DialConcurrency: 64, Rounds: 1,
		Idle:    IdleProfile{Conns: []int{15000}, TargetConns: 15000, Hold: time.Second},
		Connect: ConnectProfile{Window: Window{500 * time.Millisecond, 2 * time.Second}, Concurrency: 32},
		Echo:    EchoProfile{Window: Window{500 * time.Millisecond, 2 * time.Second}, Conns: 1000, Inflight: []int{1, 8}, Rate: 10000, Size: 64},
		Routed:  RoutedProfile{Window: Window{500 * time.Millisecond, 2 * time.Second}, Conns: 1000, Inflight: 1, Rate: 5000, Size: 64},
		Post:    PostProfile{Window: Window{500 * time.Millisecond, 2 * time.Second}, Receivers: 1000, Clients: 64, Size: 64},
		Churn:   ChurnProfile{Window: Window{500 * time.Millisecond, 3 * time.Second}, Steady: 200, Concurrency: 16},
	},
	"full": {
		Name: "full", Sources: 8, PerProcess: 18000, DialConcurrency: 64, Rounds: 3,
		Idle:    IdleProfile{Conns: []int{15000, 50000}, TargetConns: 15000, Hold: 3 * time.Second},
		Connect: ConnectProfile{Window: Window{time.Second, 5 * time.Second}, Concurrency: 32},
		Echo:    EchoProfile{Window: Window{time.Second, 5 * time.Second}, Conns: 1000, Inflight: []int{1, 8}, Rate: 10000, Size: 64},
		Routed:  RoutedProfile{Window: Window{time.Second, 5 * time.Second}, Conns: 1000, Inflight: 1, Rate: 5000, Size: 64},
		Post:    PostProfile{Window: Window{time.Second, 10 * time.Second}, Receivers: 1000, Clients: 64, Size: 64},
		Churn:   ChurnProfile{Window: Window{time.Second, 15 * time.Second}, Steady: 1000, Concurrency: 32},
	},
}

// ProfileNamed returns a profile by name.
func ProfileNamed(name string) (Profile, error) {
	p, ok := Profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("unknown profile %q (want smoke, quick or full)", name)
	}
	return p, nil
}
