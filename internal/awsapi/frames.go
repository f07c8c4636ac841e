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
