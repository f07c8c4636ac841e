//go:build linux

package nodechat_test

import (
	"strings"
	"testing"

	sbt "github.com/switchboardgw/switchboard/internal/switchboardtest"
)

// whoamiYAML answers any message with the sender's connection id.
const whoamiYAML = sbt.ManagementYAML + `
integrations:
  whoami: {type: MOCK, response: {body: $context.connectionId}}
routes:
  $default: {integration: whoami, routeResponseSelectionExpression: $default}
`

// TestJavaScriptSDKTypedErrors runs sdkerrors.mjs: the AWS SDK for
// JavaScript v3 management client must get GoneException,
// PayloadTooLargeException and ForbiddenException as its own error classes,
// and Post, Get and Delete on a live connection must succeed.
func TestJavaScriptSDKTypedErrors(t *testing.T) {
	npmCI(t, ".")
	ts := sbt.RunServer(t, whoamiYAML)
	c := sbt.MustDial(t, ts.URL)
	c.SendText("who")
	id := c.ReadText()

	const message = "posted with @aws-sdk/client-apigatewaymanagementapi"
	out, err := runNode(t, ".", []string{"AWS_ACCESS_KEY_ID=" + sbt.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + sbt.SecretAccessKey},
		"sdkerrors.mjs", ts.HTTP, id, message)
	t.Logf("sdkerrors.mjs %s %s:\n%s", ts.HTTP, id, out)
	if err != nil {
		t.Fatalf("sdkerrors.mjs failed: %v", err)
	}
	for _, check := range []string{"post-unknown-id", "get-unknown-id", "post-too-large", "wrong-secret", "post-live", "get-live", "delete-live"} {
		if !strings.Contains(out, "PASS "+check+": ") {
			t.Errorf("sdkerrors.mjs did not pass %s", check)
		}
	}

	// The client got the post, then Delete's close frame.
	c.ExpectText(message)
	c.ExpectClose(1000)
}
