package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

// A graceful stop with thousands of connections: every client gets its
// 1001 close frame, the closes are spread over the drain window, and the
// backend gets every $disconnect before Shutdown returns.
func TestDrainThousands(t *testing.T) {
	const n = 2000
	rec := newRecorder(t)
	ts := sbt.RunServer(t, "drainWindow: 500ms\n"+recordedWhoamiYAML(rec, ""))
	clients := make([]*sbt.Client, n)
	for i := range clients {
		clients[i] = sbt.MustDial(t, ts.URL)
	}
	sbt.CheckFor(t, 10*time.Second, func() error {
		if got := ts.Connections(); got != n {
			return fmt.Errorf("%d of %d connected", got, n)
		}
		return nil
	})

	closedAt := make([]time.Time, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := c.Read(15 * time.Second)
			switch {
			case err != nil:
				errs <- fmt.Errorf("client %d: %v", i, err)
			case m.Code != 1001 || m.Reason != "Going away":
				errs <- fmt.Errorf("client %d: close %d %q, want 1001 Going away", i, m.Code, m.Reason)
			}
			closedAt[i] = time.Now()
			c.Close(1001, "")
		}()
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	first, last := closedAt[0], closedAt[0]
	for _, at := range closedAt {
		if at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	if spread := last.Sub(first); spread < 250*time.Millisecond {
		t.Errorf("closes spread over %v; drainWindow is 500ms", spread)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	seen := map[string]bool{}
	for _, ev := range rec.events {
		if rc := ev["requestContext"].(map[string]any); rc["eventType"] == "DISCONNECT" {
			seen[rc["connectionId"].(string)] = true
		}
	}
	if len(seen) != n {
		t.Errorf("%d $disconnect events after Shutdown returned (in %v), want %d", len(seen), time.Since(start), n)
	}
}

// A management API throttle answers 429 LimitExceededException once its
// bucket is empty.
func TestManagementThrottle(t *testing.T) {
	ts := sbt.RunServer(t, strings.Replace(whoamiYAML, "management: {", "management: {throttlingRateLimit: 0.001, throttlingBurstLimit: 2, ", 1))
	c := sbt.MustDial(t, ts.URL)
	id := connectionID(c)
	var errs []error
	for range 3 {
		_, err := ts.Management().PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{
			ConnectionId: aws.String(id), Data: []byte("x")})
		errs = append(errs, err)
	}
	var le *types.LimitExceededException
	if errs[0] != nil || errs[1] != nil || !errors.As(errs[2], &le) {
		t.Errorf("posts: %v, want ok, ok, LimitExceededException", errs)
	}
}
