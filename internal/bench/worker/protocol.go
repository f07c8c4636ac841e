// Package worker runs load in child processes: the benchmark re-executes
// itself as `switchboard-bench worker`, writes a Job as one JSON line on
// the worker's stdin and reads Events as JSON lines on its stdout. Each
// worker holds at most MaxConns connections, so that the load fits the
// per-process descriptor limit.
//
// The conversation:
//
//	parent → {"job": …}                     worker dials its connections
//	worker → {"type":"connected", …}        (ids too, for a receive job)
//	parent → {"cmd":"start"}                the workload runs its window
//	worker → {"type":"result", …}
//	parent → {"cmd":"stop"} or closes stdin worker closes its connections, exits
//
// "stop" may come at any point (an idle job is stopped without a start).
// A worker that cannot go on writes {"type":"fatal","error":…} and exits 1.
package worker

import (
	"encoding/json"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/loadgen"
)

// MaxConns is the most connections one worker holds (the descriptor limit
// is 20,000 per process here).
const MaxConns = 18000

// Job kinds.
const (
	KindIdle       = "idle"       // dial Conns and hold them
	KindEcho       = "echo"       // echo round trips (closed or open loop)
	KindHandshakes = "handshakes" // handshake storm
	KindReceive    = "receive"    // hold Conns, report their ids, record deliveries
	KindPost       = "post"       // @connections POSTs
	KindChurn      = "churn"      // connect, one message, disconnect, repeat
)

// Job is one worker's share of a workload.
type Job struct {
	Kind string `json:"kind"`
	// Targets are WebSocket URLs; connection i goes to Targets[i % len].
	Targets []string `json:"targets,omitempty"`
	// Conns is the number of connections to hold (idle, echo, receive).
	Conns int `json:"conns,omitempty"`
	// First numbers this worker's first connection: it picks source
	// addresses and targets, so workers spread evenly.
	First int `json:"first,omitempty"`
	// Sources is how many loopback source addresses to rotate over.
	Sources int `json:"sources,omitempty"`
	// DialConcurrency is the number of dials in progress at once.
	DialConcurrency int `json:"dialConcurrency,omitempty"`
	// Concurrency is the number of storm goroutines (handshakes, churn) or
	// HTTP clients (post).
	Concurrency int `json:"concurrency,omitempty"`
	// Warmup and Duration make the window, from "start".
	Warmup   Duration `json:"warmup,omitempty"`
	Duration Duration `json:"duration,omitempty"`
	// Echo shapes echo and churn messages.
	Echo loadgen.Echo `json:"echo"`
	// Post configures a post job.
	Post loadgen.Post `json:"post"`
	// Grace is how long a receive job keeps reading after its window.
	Grace Duration `json:"grace,omitempty"`
}

// Duration is a time.Duration written as a string ("1.5s") in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// Event types.
const (
	EventConnected = "connected"
	EventResult    = "result"
	EventFatal     = "fatal"
)

// Event is one line from a worker.
type Event struct {
	Type string `json:"type"`
	// Conns is the number of connections held (connected).
	Conns int `json:"conns,omitempty"`
	// IDs are the connection ids of a receive job (connected).
	IDs []string `json:"ids,omitempty"`
	// Stats is the dial outcome (connected) or the window's (result).
	Stats *loadgen.Stats `json:"stats,omitempty"`
	// Error says why the worker gave up (fatal).
	Error string `json:"error,omitempty"`
}

// command is one line from the parent after the job.
type command struct {
	Cmd string `json:"cmd"` // "start" or "stop"
}

// envelope is the first line: the job.
type envelope struct {
	Job *Job `json:"job"`
}
