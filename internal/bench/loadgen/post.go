package loadgen

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Post configures the @connections workload.
type Post struct {
	// Endpoint is the management endpoint, http://HOST:PORT/STAGE.
	Endpoint string
	// IDs are the target connections, posted to round-robin. One id that
	// does not exist is fine against a server that ignores it.
	IDs []string
	// Clients is the number of concurrent keep-alive HTTP clients.
	Clients int
	// Size is the payload size; each payload carries its send time.
	Size int
	// AccessKeyID and SecretAccessKey sign every request (SigV4, service
	// execute-api, region us-east-1), whether or not the server checks.
	AccessKeyID, SecretAccessKey string
}

// RunPost has Clients goroutines POST to @connections/{id} back to back
// until the window ends, each request signed with the AWS SDK's signer.
// Ops count 200 answers in the window; Latency is the POST round trip.
func RunPost(ctx context.Context, p Post, w Window) Stats {
	transport := &http.Transport{MaxIdleConnsPerHost: p.Clients, MaxConnsPerHost: p.Clients,
		DisableCompression: true, IdleConnTimeout: 30 * time.Second}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	creds := aws.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey}

	return closedLoop(ctx, p.Clients, 0, w, func() func(int) (time.Time, time.Time, error) {
		signer := v4.NewSigner()
		var body []byte
		return func(i int) (time.Time, time.Time, error) {
			id := p.IDs[i%len(p.IDs)]
			t0 := time.Now()
			body = AppendMessage(body[:0], "", t0.UnixNano(), p.Size)
			err := postOne(ctx, client, signer, creds, p.Endpoint+"/@connections/"+url.PathEscape(id), body, t0)
			return t0, time.Now(), err
		}
	})
}

func postOne(ctx context.Context, client *http.Client, signer *v4.Signer, creds aws.Credentials, target string, body []byte, now time.Time) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	if err := signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", now); err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s %s %.200s", target, resp.Status, resp.Header.Get("x-amzn-ErrorType"), answer)
	}
	return nil
}
