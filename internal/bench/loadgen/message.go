package loadgen

import (
	"bytes"
	"strconv"
)

// AppendMessage appends a JSON message carrying the timestamp t (Unix
// nanoseconds): {"action":ACTION,"t":T,"p":"xxx…"}, padded to size bytes
// when size allows. An empty action leaves the action member out (the
// @connections payload).
func AppendMessage(dst []byte, action string, t int64, size int) []byte {
	start := len(dst)
	dst = append(dst, '{')
	if action != "" {
		dst = append(dst, `"action":"`...)
		dst = append(dst, action...)
		dst = append(dst, `",`...)
	}
	dst = append(dst, `"t":`...)
	dst = strconv.AppendInt(dst, t, 10)
	dst = append(dst, `,"p":"`...)
	for len(dst)-start < size-2 {
		dst = append(dst, 'x')
	}
	return append(dst, `"}`...)
}

var stampKey = []byte(`"t":`)

// ParseStamp returns the timestamp AppendMessage wrote into msg.
func ParseStamp(msg []byte) (int64, bool) {
	i := bytes.Index(msg, stampKey)
	if i < 0 {
		return 0, false
	}
	var t int64
	n := 0
	for _, c := range msg[i+len(stampKey):] {
		if c < '0' || c > '9' {
			break
		}
		t = t*10 + int64(c-'0')
		n++
	}
	return t, n > 0
}
