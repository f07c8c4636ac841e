package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboardgw/switchboard/internal/bench/report"
)

func TestWriteResultsNames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results")
	for _, tc := range []struct{ profile, commit, want string }{
		{"quick", "abc1234", "2026-11-24-abc1234.json"},
		{"quick", "abc1234+dirty", "2026-11-24-abc1234.json"},
		{"full", "abc1234", "2026-11-24-abc1234-full.json"},
	} {
		run := &report.Run{Date: "2026-11-24", Commit: tc.commit, Profile: tc.profile}
		path, err := writeResults(dir, run)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(path) != tc.want {
			t.Errorf("%s %s: wrote %s, want %s", tc.profile, tc.commit, filepath.Base(path), tc.want)
		}
		data, _ := os.ReadFile(path)
		var back report.Run
		if err := json.Unmarshal(data, &back); err != nil || back.Commit != tc.commit {
			t.Errorf("%s: %v, commit %q", path, err, back.Commit)
		}
	}
}

func TestCommit(t *testing.T) {
	if got := commit(""); got != "unknown" {
		t.Errorf("commit outside a repository = %q", got)
	}
	if got := commit(t.TempDir()); got != "unknown" {
		t.Errorf("commit of a directory that is not a git repository = %q", got)
	}
}
