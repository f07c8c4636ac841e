package session

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// readHeader must agree with gobwas/ws's own parser on every input.
func FuzzReadHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4})
	f.Add([]byte{0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4})
	f.Add([]byte{0x01, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4})
	f.Add([]byte{0x88, 0x00})
	f.Add([]byte{0x81})
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf [14]byte
		ours, started, err := readHeader(bytes.NewReader(data), buf[:])
		theirs, terr := ws.ReadHeader(bytes.NewReader(data))
		if started != (len(data) > 0) {
			t.Fatalf("started = %v for %d bytes", started, len(data))
		}
		if (err == nil) != (terr == nil) {
			// gobwas rejects a 64-bit length with the top bit set; we clamp
			// it to a size every limit refuses.
			if terr == ws.ErrHeaderLengthMSB && err == nil && ours.length == 1<<62 {
				return
			}
			t.Fatalf("err %v, gobwas err %v", err, terr)
		}
		if err != nil {
			return
		}
		if ours.fin != theirs.Fin || ours.rsv != theirs.Rsv || ours.op != theirs.OpCode ||
			ours.masked != theirs.Masked || ours.mask != theirs.Mask || (ours.length != theirs.Length && ours.length != 1<<62) {
			t.Fatalf("ours %+v, gobwas %+v", ours, theirs)
		}
	})
}

func TestEncodeMessageFragments(t *testing.T) {
	payload := bytes.Repeat([]byte("abcdefghij"), 10) // 100 bytes
	for _, maxFrame := range []int{0, 30, 100, 1000} {
		frames := encodeMessage(ws.OpText, payload, maxFrame)
		r := bytes.NewReader(frames)
		var got []byte
		n := 0
		for {
			f, err := readTestFrame(r)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			wantOp := ws.OpContinuation
			if n == 0 {
				wantOp = ws.OpText
			}
			if f.Header.OpCode != wantOp || f.Header.Masked || (maxFrame > 0 && len(f.Payload) > maxFrame) {
				t.Fatalf("max %d frame %d: %+v", maxFrame, n, f.Header)
			}
			got = append(got, f.Payload...)
			n++
			if f.Header.Fin {
				if r.Len() != 0 {
					t.Fatalf("max %d: bytes after the final frame", maxFrame)
				}
				break
			}
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("max %d: reassembled %q", maxFrame, got)
		}
		wantFrames := 1
		if maxFrame > 0 && maxFrame < len(payload) {
			wantFrames = (len(payload) + maxFrame - 1) / maxFrame
		}
		if n != wantFrames {
			t.Errorf("max %d: %d frames, want %d", maxFrame, n, wantFrames)
		}
	}
	// Length encodings: 7-bit, 16-bit and 64-bit.
	for _, size := range []int{125, 126, 65535, 65536} {
		f, err := readTestFrame(bytes.NewReader(encodeFrame(nil, ws.OpBinary, true, make([]byte, size))))
		if err != nil || len(f.Payload) != size {
			t.Errorf("size %d: %v, %d", size, err, len(f.Payload))
		}
	}
}

// readTestFrame reads one frame of at most 1 MiB.
func readTestFrame(r io.Reader) (ws.Frame, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > 1<<20 {
		return ws.Frame{}, io.ErrShortBuffer
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(r, p); err != nil {
		return ws.Frame{}, err
	}
	return ws.Frame{Header: h, Payload: p}, nil
}

func TestValidCloseCode(t *testing.T) {
	for code, want := range map[int]bool{999: false, 1000: true, 1001: true, 1003: true, 1004: false, 1005: false, 1006: false,
		1007: true, 1011: true, 1014: true, 1015: false, 2000: false, 3000: true, 4999: true, 5000: false} {
		if got := validCloseCode(code); got != want {
			t.Errorf("validCloseCode(%d) = %v", code, got)
		}
	}
}

type discardHandler struct{}

func (discardHandler) HandleMessage(*Conn, []byte, bool) {}
func (discardHandler) HandleClose(*Conn, int, string)    {}

// Each queued frame is charged its overhead, so a client that reads
// nothing cannot make tiny frames hold far more memory than the limit.
func TestSendQueueChargesEachFrame(t *testing.T) {
	server, client := net.Pipe() // nobody reads client: the writer blocks
	defer client.Close()
	const limit = 64 << 10
	c := New(server, Info{ID: "x", ConnectedAt: time.Now().UnixMilli()},
		&Options{SendQueueBytes: limit, MaxFrameBytes: 32 << 10, WriteTimeout: time.Minute, CloseGrace: time.Second}, discardHandler{})
	n := 0
	for ; n < 100000; n++ {
		err := c.Send(nil, false)
		if errors.Is(err, ErrQueueFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if perFrame := 2 + frameOverhead; n > limit/perFrame+1 {
		t.Errorf("%d empty messages queued within %d bytes; at most %d fit", n, limit, limit/perFrame+1)
	}
	if err := c.Send(make([]byte, limit+1), false); !errors.Is(err, ErrTooLarge) {
		t.Errorf("message larger than the queue: %v, want ErrTooLarge", err)
	}
}
