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
	var raw [11]byte
	binary.BigEndian.PutUint32(raw[0:4], uint32(time.Now().Unix()))
	copy(raw[4:7], g.node[:])
	binary.BigEndian.PutUint32(raw[7:11], g.counter.Add(1))
	var out [IDLen]byte
	base64.URLEncoding.Encode(out[:], raw[:])
	return string(out[:])
}
