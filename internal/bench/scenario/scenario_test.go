package scenario

import (
	"testing"
	"time"

	"github.com/switchboardgw/switchboard/internal/bench/worker"
)

func TestProfilesFitTheMachine(t *testing.T) {
	for name, p := range Profiles {
		if p.Name != name {
			t.Errorf("profile %q is named %q", name, p.Name)
		}
		if p.PerProcess > worker.MaxConns || p.Sources < 1 || p.Sources > 8 {
			t.Errorf("%s: %d connections per process, %d sources", name, p.PerProcess, p.Sources)
		}
		for _, w := range []Window{p.Connect.Window, p.Echo.Window, p.Routed.Window, p.Post.Window, p.Churn.Window} {
			if w.Duration < time.Second {
				t.Errorf("%s: window of %v; CPU profiles need at least 1 s", name, w.Duration)
			}
		}
		if len(p.Echo.Inflight) == 0 || p.Echo.Rate <= 0 || p.Routed.Rate <= 0 || p.Post.Clients <= 0 {
			t.Errorf("%s: echo/routed/post not sized: %+v %+v %+v", name, p.Echo, p.Routed, p.Post)
		}
	}
	quick := Profiles["quick"]
	if !contains(quick.Idle.Conns, quick.Idle.TargetConns) {
		t.Error("quick should measure idle memory at the target's connection count")
	}
	if quick.Echo.Conns != 1000 || len(quick.Echo.Inflight) != 2 || quick.Post.Clients != 64 || quick.Routed.Rate != 5000 {
		t.Error("quick should use the issue's load shapes: echo 1,000 × 1 and 8 in flight, 64 POST clients, routed at 5k msgs/s")
	}
	full := Profiles["full"]
	if !contains(full.Idle.Conns, 50000) {
		t.Error("full should hold 50,000 idle connections")
	}
	if _, err := ProfileNamed("huge"); err == nil {
		t.Error("unknown profile accepted")
	}
}

func TestSelect(t *testing.T) {
	all, err := Select("all")
	if err != nil || len(all) != 6 || all[0] != "idle" || all[5] != "churn" {
		t.Fatalf("all = %v, %v", all, err)
	}
	got, err := Select("echo, post")
	if err != nil || len(got) != 2 || got[1] != "post" {
		t.Fatalf("Select(echo, post) = %v, %v", got, err)
	}
	if _, err := Select("echo,nope"); err == nil {
		t.Error("unknown scenario accepted")
	}
}

func TestFileLabel(t *testing.T) {
	for in, want := range map[string]string{
		"switchboard 1000 × 1 in flight":       "switchboard-1000-1-in-flight",
		"switchboard $connect → HTTP backend":  "switchboard-connect-http-backend",
		"bare accept+upgrade ":                 "bare-accept-upgrade",
		"switchboard 1000 × fixed 5000 msgs/s": "switchboard-1000-fixed-5000-msgs-s",
	} {
		if got := fileLabel(in); got != want {
			t.Errorf("fileLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
