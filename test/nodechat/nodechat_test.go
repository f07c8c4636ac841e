//go:build linux

package nodechat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

const (
	exampleDir = "../../examples/aws-lambda-chat"
	runnerPath = "../../tools/lambda-runner/lambda-runner.mjs"
	tableName  = "chat-connections"

	// The keys the chat functions sign @connections calls with; the
	// example's switchboard.yaml accepts them through CHAT_* variables.
	chatAccessKeyID     = "AKIDCHATFUNCTIONS"
	chatSecretAccessKey = "chat-functions-secret"
)

// TestChatAppRunsUnchanged runs the example chat, written for API Gateway,
// Lambda and DynamoDB, against the gateway: processes and wiring are
//
//	dynalite      node dynamodb.mjs, 127.0.0.1:free port, creates the table
//	lambda-runner the chat's handlers, on a socket this test opened
//	              (AWS_ENDPOINT_URL_LAMBDA), with TABLE_NAME,
//	              AWS_ENDPOINT_URL_DYNAMODB, CALLBACK_URL = the gateway
//	gateway       RunServer with the example's switchboard.yaml
//
// The runner needs the gateway's address (CALLBACK_URL) and the gateway
// the runner's (AWS_ENDPOINT_URL_LAMBDA), so the test opens the runner's
// listening socket first, starts the gateway, then starts the runner,
// which inherits the socket as fd 3: no port is guessed or reused.
func TestChatAppRunsUnchanged(t *testing.T) {
	npmCI(t, exampleDir)
	npmCI(t, ".")
	runner, err := filepath.Abs(runnerPath)
	if err != nil {
		t.Fatal(err)
	}

	// The gateway's own AWS identity, used to invoke the functions.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDGATEWAY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "gateway-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	// The keys the example's management section accepts.
	t.Setenv("CHAT_ACCESS_KEY_ID", chatAccessKeyID)
	t.Setenv("CHAT_SECRET_ACCESS_KEY", chatSecretAccessKey)

	dynamoURL := startNode(t, ".", []string{"TABLE_NAME=" + tableName}, nil, "dynamodb listening on ", "dynamodb.mjs")
	// The environment a Lambda function would have: its configuration and
	// its execution role's keys.
	functionEnv := []string{
		"TABLE_NAME=" + tableName,
		"AWS_ENDPOINT_URL_DYNAMODB=" + dynamoURL,
		"AWS_ACCESS_KEY_ID=" + chatAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + chatSecretAccessKey,
		"AWS_REGION=us-east-1",
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lambdaSocket, err := ln.(*net.TCPListener).File() // a duplicate: keeps listening after ln.Close
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer lambdaSocket.Close()
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", "http://"+ln.Addr().String())

	config, err := os.ReadFile(filepath.Join(exampleDir, "switchboard.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ts := sbt.RunServer(t, string(config))

	startNode(t, exampleDir, append(functionEnv, "CALLBACK_URL="+ts.HTTP), []*os.File{lambdaSocket},
		"lambda-runner listening on ", runner, "--listen-fd", "3",
		"--function", "chat-onconnect=handlers/onconnect.mjs#handler",
		"--function", "chat-ondisconnect=handlers/ondisconnect.mjs#handler",
		"--function", "chat-sendmessage=handlers/sendmessage.mjs#handler")
	lambdaSocket.Close() // the runner has its own copy

	table := func(args ...string) string {
		t.Helper()
		out, err := runNode(t, ".", functionEnv, append([]string{"table.mjs"}, args...)...)
		if err != nil {
			t.Fatalf("table.mjs %v: %v", args, err)
		}
		return out
	}
	scan := func() []string {
		t.Helper()
		var ids []string
		if out := table("scan"); json.Unmarshal([]byte(out), &ids) != nil {
			t.Fatalf("table.mjs scan printed %q", out)
		}
		return ids
	}

	// Three clients join. The handshake completes after $connect's
	// function returned, so each is in the table by then; the new entry
	// tells the test the client's connection id.
	var clients []*sbt.Client
	var ids []string
	for range 3 {
		clients = append(clients, sbt.MustDial(t, ts.URL))
		got := scan()
		added := slices.DeleteFunc(slices.Clone(got), func(id string) bool { return slices.Contains(ids, id) })
		if len(got) != len(ids)+1 || len(added) != 1 {
			t.Fatalf("after a connect the table lists %v; before it listed %v", got, ids)
		}
		ids = append(ids, added[0])
	}
	t.Logf("connection ids: %v", ids)

	clients[0].SendText(`{"action":"sendmessage","data":"hello everyone"}`)
	for _, c := range clients {
		c.ExpectText("hello everyone")
	}

	// A connection the table still lists but that is gone: sendmessage's
	// PostToConnection gets GoneException and deletes it.
	const stale = "staleConnection="
	table("put", stale)
	// One client leaves: $disconnect deletes it.
	left, stay := ids[2], ids[:2]
	if err := clients[2].Close(1000, "bye"); err != nil {
		t.Fatalf("closing client 2: %v", err)
	}
	clients[1].SendText(`{"action":"sendmessage","data":"still here?"}`)
	clients[0].ExpectText("still here?")
	clients[1].ExpectText("still here?")
	sbt.CheckFor(t, 10*time.Second, func() error {
		if got, want := scan(), slices.Sorted(slices.Values(stay)); !slices.Equal(got, want) {
			return fmt.Errorf("table lists %v, want %v (without the departed %s and the stale %s)", got, want, left, stale)
		}
		return nil
	})
	mgmt := sbt.ManagementClient(ts.HTTP, chatAccessKeyID, chatSecretAccessKey)
	_, err = mgmt.GetConnection(context.Background(), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(left)})
	if gone := (*types.GoneException)(nil); !errors.As(err, &gone) {
		t.Errorf("GetConnection(%s) after it left: %v, want GoneException", left, err)
	}

	// Everyone leaves; the table empties.
	for _, c := range clients[:2] {
		if err := c.Close(1000, "bye"); err != nil {
			t.Fatalf("closing: %v", err)
		}
	}
	sbt.CheckFor(t, 10*time.Second, func() error {
		if got := scan(); len(got) != 0 {
			return fmt.Errorf("table lists %v after everyone left", got)
		}
		return nil
	})
}
