package server

import (
	"bufio"
	"strings"
	"testing"
)

func TestHeadEnd(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\nframe", 27},
		{"GET / HTTP/1.1\nHost: x\n\nframe", 24},
		{"GET / HTTP/1.1\r\nHost: x\n\r\n", 26},
		{"GET / HTTP/1.1\r\nHost: x\r\n", 0},
		{"GET / HTTP/1.1\r\n\r\n", 18},
		{"", 0},
	} {
		if got := headEnd([]byte(tt.in), 0); got != tt.want {
			t.Errorf("headEnd(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// peekHead finds a head that arrives in pieces, an end split across reads
// included, and reports 0 for one longer than the buffer.
func TestPeekHeadInPieces(t *testing.T) {
	head := "GET /dev HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 100) + "\r\n\r\n"
	for cut := 1; cut < len(head); cut += 7 {
		r := &chunkReader{chunks: []string{head[:cut], head[cut:] + "rest"}}
		n, err := peekHead(bufio.NewReaderSize(r, 4096))
		if err != nil || n != len(head) {
			t.Fatalf("cut at %d: %d, %v; want %d", cut, n, err, len(head))
		}
	}
	long := "GET /dev HTTP/1.1\r\nX-Pad: " + strings.Repeat("p", 5000) + "\r\n\r\n"
	if n, err := peekHead(bufio.NewReaderSize(&chunkReader{chunks: []string{long}}, 4096)); n != 0 || err != nil {
		t.Errorf("a head over the buffer: %d, %v; want 0, nil", n, err)
	}
}

type chunkReader struct{ chunks []string }

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, bufio.ErrBufferFull // never reached by the tests above
	}
	n := copy(p, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	if r.chunks[0] == "" {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

func FuzzParseHead(f *testing.F) {
	f.Add([]byte("GET /dev?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n"))
	f.Add([]byte("GET /dev HTTP/1.1\nX : y\n folded\n\n"))
	f.Add([]byte("\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := headEnd(b, 0)
		if n < 0 || n > len(b) {
			t.Fatalf("headEnd = %d of %d bytes", n, len(b))
		}
		if n == 0 {
			return
		}
		line, rest := bytesCutLine(b[:n])
		if method, target, _, ok := parseRequestLine(line); ok && (method == "" || !strings.HasPrefix(target, "/")) {
			t.Fatalf("parseRequestLine(%q) accepted %q %q", line, method, target)
		}
		hs, ok := parseHeaderLines(rest)
		if !ok {
			return
		}
		for _, h := range hs {
			if !isToken(h.Name) || strings.ContainsAny(h.Value, "\r\n") {
				t.Fatalf("header %q: %q from %q", h.Name, h.Value, rest)
			}
		}
	})
}
