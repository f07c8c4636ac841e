package awsapi

// Messages of the error frames API Gateway sends on an open socket.
const (
	FrameForbidden       = "Forbidden"                  // no route matched and no $default
	FrameInternalError   = "Internal server error"      // the integration failed
	FrameEndpointTimeout = "Endpoint request timed out" // the integration timed out
)

// AppendErrorFrame appends the text of a gateway error frame, byte for byte
// as API Gateway writes it (note the spacing):
//
//	{"message": "Forbidden", "connectionId":"XDmENcnwIE0CFEQ=", "requestId":"XDmGEE2RoE0FRdQ="}
func AppendErrorFrame(dst []byte, message, connectionID, requestID string) []byte {
	dst = append(dst, `{"message": `...)
	dst = AppendJSONString(dst, message)
	dst = append(dst, `, "connectionId":`...)
	dst = AppendJSONString(dst, connectionID)
	dst = append(dst, `, "requestId":`...)
	dst = AppendJSONString(dst, requestID)
	return append(dst, '}')
}

// FrameTooManyRequests is the message of the frame a throttled message
// gets. API Gateway's text for it is not documented; Switchboard uses the
// HTTP reason phrase in the usual frame shape.
const FrameTooManyRequests = "Too Many Requests"

// AppendBadRequestFrame appends the frame a message failing its model
// gets, in the shape API Gateway documents for it (which differs from the
// other error frames: spacing, and messageId instead of requestId):
//
//	{"message" : "Bad request body", "connectionId": "XDmENcnwIE0CFEQ=", "messageId": "XDmGEE2RoE0FRdQ="}
func AppendBadRequestFrame(dst []byte, connectionID, messageID string) []byte {
	dst = append(dst, `{"message" : "Bad request body", "connectionId": `...)
	dst = AppendJSONString(dst, connectionID)
	dst = append(dst, `, "messageId": `...)
	dst = AppendJSONString(dst, messageID)
	return append(dst, '}')
}
