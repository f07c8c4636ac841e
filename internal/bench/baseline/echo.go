package baseline

import (
	"net"
)

// echo writes every message back as it came, one write per message.
func (s *server) echo(c net.Conn) {
	r := newReader(c)
	var out []byte
	for {
		msg, op, err := r.next()
		if err != nil {
			return
		}
		out = appendFrame(out[:0], op, msg)
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}
