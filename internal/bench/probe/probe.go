// Package probe reads a running server from outside: its /debug/vars
// (memory statistics, connections, goroutines), a forced garbage collection,
// CPU and allocation profiles from /debug/pprof, and its resident memory
// from /proc.
package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// client does not keep connections alive, so that polling a server leaves
// no idle connection (and no goroutine) behind in it.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// Vars is what the benchmark reads from /debug/vars.
type Vars struct {
	// Connections and Goroutines come from the "switchboard" variable of a
	// gateway or the "bench" variable of a bare server.
	Connections int64
	Goroutines  int64
	HeapInuse   uint64
	StackInuse  uint64
	HeapAlloc   uint64
	Sys         uint64
	NumGC       uint32
}

type rawVars struct {
	Memstats struct {
		HeapInuse  uint64 `json:"HeapInuse"`
		StackInuse uint64 `json:"StackInuse"`
		HeapAlloc  uint64 `json:"HeapAlloc"`
		Sys        uint64 `json:"Sys"`
		NumGC      uint32 `json:"NumGC"`
	} `json:"memstats"`
	Switchboard *counts `json:"switchboard"`
	Bench       *counts `json:"bench"`
}

type counts struct {
	Connections int64 `json:"connections"`
	Goroutines  int64 `json:"goroutines"`
}

// ReadVars fetches and decodes debugURL/debug/vars.
func ReadVars(ctx context.Context, debugURL string) (Vars, error) {
	body, err := get(ctx, debugURL+"/debug/vars")
	if err != nil {
		return Vars{}, err
	}
	var r rawVars
	if err := json.Unmarshal(body, &r); err != nil {
		return Vars{}, fmt.Errorf("decode %s/debug/vars: %w", debugURL, err)
	}
	v := Vars{HeapInuse: r.Memstats.HeapInuse, StackInuse: r.Memstats.StackInuse,
		HeapAlloc: r.Memstats.HeapAlloc, Sys: r.Memstats.Sys, NumGC: r.Memstats.NumGC}
	c := r.Switchboard
	if c == nil {
		c = r.Bench
	}
	if c == nil {
		return v, fmt.Errorf("%s/debug/vars has neither \"switchboard\" nor \"bench\"", debugURL)
	}
	v.Connections, v.Goroutines = c.Connections, c.Goroutines
	return v, nil
}

// WaitVars polls /debug/vars every 50 ms until ok accepts them or ctx ends;
// it returns the last Vars read.
func WaitVars(ctx context.Context, debugURL string, ok func(Vars) bool) (Vars, error) {
	var last Vars
	var lastErr error
	for {
		v, err := ReadVars(ctx, debugURL)
		if err == nil {
			last = v
			if ok(v) {
				return v, nil
			}
		}
		lastErr = err
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return last, lastErr
			}
			return last, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// GC makes the server collect garbage (net/http/pprof's heap profile with
// gc=1), so that heap figures read afterwards count live memory only.
func GC(ctx context.Context, debugURL string) error {
	_, err := get(ctx, debugURL+"/debug/pprof/heap?gc=1")
	return err
}

// CPUProfile records seconds of CPU profile and writes it to path.
func CPUProfile(ctx context.Context, debugURL string, seconds int, path string) error {
	return save(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", debugURL, seconds), path)
}

// AllocsProfile writes the server's allocation profile (since it started)
// to path.
func AllocsProfile(ctx context.Context, debugURL, path string) error {
	return save(ctx, debugURL+"/debug/pprof/allocs", path)
}

func save(ctx context.Context, url, path string) error {
	body, err := get(ctx, url)
	if err != nil {
		return err
	}
	return os.WriteFile(path, body, 0o644)
}

func get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}
