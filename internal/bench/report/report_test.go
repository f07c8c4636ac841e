package report

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		c       Check
		outcome string
	}{
		{NewCheck("ratio", 0.81, "×", ">=", 0.8), "**met**"},
		{NewCheck("ratio", 0.79, "×", ">=", 0.8), "**missed**"},
		{NewCheck("bytes", 2048, "B", "<=", 2048), "**met**"},
		{NewCheck("info", 3, "×", "", 0), ""},
		{NewCheck("nan", Ratio(1, 0), "×", ">=", 1), "skipped: no figure (a side measured zero)"},
		{Skip("absent", "×", ">=", 20, "no serverless-offline"), "skipped: no serverless-offline"},
	} {
		if got := tc.c.outcome(); got != tc.outcome {
			t.Errorf("%s %v: outcome %q, want %q", tc.c.Name, tc.c.Value, got, tc.outcome)
		}
	}
	if !math.IsNaN(Ratio(1, 0)) || Ratio(3, 2) != 1.5 {
		t.Error("Ratio")
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		v      float64
		format string
		want   string
	}{{1234567.4, "int", "1,234,567"}, {-1234, "int", "-1,234"}, {999, "int", "999"}, {0.456, "f2", "0.46"}, {12.25, "f1", "12.2"}, {-0.0001, "f2", "0.00"}} {
		if got := Format(tc.v, tc.format); got != tc.want {
			t.Errorf("Format(%v, %s) = %q, want %q", tc.v, tc.format, got, tc.want)
		}
	}
}

func TestMarkdownAndJSON(t *testing.T) {
	s := &Scenario{Name: "echo", Setup: "1,000 connections",
		Columns: []Column{{Key: "rate", Header: "msgs/s", Format: "int"}, {Key: "p99", Header: "p99 ms", Format: "f2"}}}
	s.Add("switchboard", "1 in flight", map[string]float64{"rate": 41000, "p99": 1.234})
	s.Add("bare echo", "1 in flight", map[string]float64{"rate": 50000})
	s.AddNote("serverless-offline", "", "skipped: absent")
	s.Checks = append(s.Checks, NewCheck("switchboard ÷ bare", 0.82, "×", ">=", 0.7))
	s.Notef("note %d", 1)
	r := &Run{Date: "2026-11-24", Commit: "abc1234", Profile: "quick", Command: "switchboard-bench run", Scenarios: []*Scenario{s}}

	var md bytes.Buffer
	r.Markdown(&md)
	for _, want := range []string{"### echo", "| switchboard        | 1 in flight |", "41,000 |", "1.23 |", "| bare echo", "—",
		"skipped: absent", "0.82×", "≥ 0.70×", "**met**", "- note 1"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	var js bytes.Buffer
	if err := r.JSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Run
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Scenarios[0].Rows[0].Values["rate"] != 41000 || !*back.Scenarios[0].Checks[0].Met {
		t.Errorf("JSON round trip lost figures: %s", js.String())
	}
}
