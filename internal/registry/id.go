package registry

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"sync/atomic"
	"time"
)

// IDLen is the length of every id: 15 URL-safe base64 characters and "=",
// the shape of API Gateway's connection, request and message ids.
const IDLen = 16

// IDs mints ids. Each id packs 11 bytes: the second it was minted (4
// bytes), this node's id (3 bytes, random per process unless given) and a
// counter (4 bytes, random start). Ids never repeat within a process (the
// counter would have to wrap within one second), and across restarts they
// differ by time and by node id.
type IDs struct {
	node    [3]byte
	counter atomic.Uint32
}

// NewIDs returns a generator with a random node id.
func NewIDs() *IDs {
	var seed [7]byte
	if _, err := rand.Read(seed[:]); err != nil {
		panic("registry: no randomness: " + err.Error())
	}
	g := &IDs{}
	copy(g.node[:], seed[:3])
	g.counter.Store(binary.BigEndian.Uint32(seed[3:]))
	return g
}

// New returns a fresh id.
func (g *IDs) New() string {
	return g.NewAt(time.Now())
}

// NewAt returns a fresh id minted at now, a reading of the clock the
// caller has taken anyway (an event's requestTime): reading the clock
// costs about as much as minting the id.
func (g *IDs) NewAt(now time.Time) string {
	var out [IDLen]byte
	g.encode(out[:], now, g.counter.Add(1))
	return string(out[:])
}

// NewPair returns two fresh ids minted at now (as NewAt), a message's
// requestId and messageId, in one allocation: both are views of one
// 32-byte string.
func (g *IDs) NewPair(now time.Time) (first, second string) {
	// Adding 2 reserves two counter values no other call gets, the same
	// two that two calls of New would have taken.
	n := g.counter.Add(2)
	var out [2 * IDLen]byte
	g.encode(out[:IDLen], now, n-1)
	g.encode(out[IDLen:], now, n)
	s := string(out[:])
	return s[:IDLen], s[IDLen:]
}

// encode writes the id for count, minted at now, into dst (IDLen bytes).
func (g *IDs) encode(dst []byte, now time.Time, count uint32) {
	var raw [11]byte
	binary.BigEndian.PutUint32(raw[0:4], uint32(now.Unix()))
	copy(raw[4:7], g.node[:])
	binary.BigEndian.PutUint32(raw[7:11], count)
	base64.URLEncoding.Encode(dst, raw[:])
}
