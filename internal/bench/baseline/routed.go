package baseline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboardgw/switchboard/internal/bench/backend"
)

// router is the routed mode: each message is POSTed to the backend as
// {"body": MESSAGE} (no event building), and the "body" of the backend's
// answer is written back. Up to opt.Inflight messages per connection are in
// flight at once, each on its own goroutine, as the gateway does.
type router struct {
	url    string
	client *http.Client
}

func newRouter(url string) *router {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4096 // as the gateway's pooled client
	t.MaxIdleConnsPerHost = 1024
	return &router{url: url, client: &http.Client{Transport: t, Timeout: 29 * time.Second}}
}

func (rt *router) serve(s *server, c net.Conn) {
	r := newReader(c)
	var wmu sync.Mutex
	sem := make(chan struct{}, s.opt.Inflight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		msg, _, err := r.next()
		if err != nil {
			return
		}
		req := backend.AppendString([]byte(`{"body":`), msg)
		req = append(req, '}')
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			reply, err := rt.call(req)
			if err != nil {
				reply = []byte(`{"message":"` + err.Error() + `"}`)
			}
			frame := appendFrame(nil, ws.OpText, reply)
			wmu.Lock()
			c.Write(frame)
			wmu.Unlock()
		}()
	}
}

// call POSTs one message and returns the decoded body of the answer.
func (rt *router) call(req []byte) ([]byte, error) {
	resp, err := rt.client.Post(rt.url, "application/json", bytes.NewReader(req))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 6<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("backend: %s", resp.Status)
	}
	raw, ok := backend.TopLevelString(answer, "body")
	if !ok {
		return nil, nil
	}
	var body string
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, err
	}
	return []byte(body), nil
}
