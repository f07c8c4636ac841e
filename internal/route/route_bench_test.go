package route

import (
	"strings"
	"testing"
)

func BenchmarkSelectSmall(b *testing.B) {
	tab := NewTable(MustCompile(`$request.body.action`, Selection), map[string]int{"sendMessage": 1, Default: 0})
	body := []byte(`{"action":"sendMessage","data":"hello world, this is a short chat message"}`)
	b.ReportAllocs()
	for b.Loop() {
		tab.Select(body)
	}
}

func BenchmarkSelectActionLast2K(b *testing.B) {
	tab := NewTable(MustCompile(`$request.body.action`, Selection), map[string]int{"sendMessage": 1, Default: 0})
	body := []byte(`{"data":"` + strings.Repeat("x", 2048) + `","action":"sendMessage"}`)
	b.ReportAllocs()
	for b.Loop() {
		tab.Select(body)
	}
}

func BenchmarkSelectNonJSON(b *testing.B) {
	tab := NewTable(MustCompile(`$request.body.action`, Selection), map[string]int{"sendMessage": 1, Default: 0})
	body := []byte(`hello there, plain text`)
	b.ReportAllocs()
	for b.Loop() {
		tab.Select(body)
	}
}
