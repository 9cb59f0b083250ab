package event

import (
	"encoding/json"
	"maps"

	"github.com/aws/aws-lambda-go/events"
)

// EncodeResponse is the one place an HTTP answer takes the shape of the
// event it answers: aws-lambda-go's response type for the AWS shapes, the
// SCF integration response (r's own JSON) for the SCF shapes and for
// anything else. Status, headers and body are the same in every shape, and
// the body is never base64-encoded.
func EncodeResponse(shape string, r Response) ([]byte, error) {
	headers := maps.Clone(r.Headers)
	switch shape {
	case ShapeAWSRESTv1:
		// IsBase64Encoded is omitempty in this type: false is left out,
		// which API Gateway reads as false.
		return json.Marshal(events.APIGatewayProxyResponse{StatusCode: r.StatusCode, Headers: headers, Body: r.Body})
	case ShapeAWSHTTPv2:
		// A payload 2.0 answer with a statusCode member is taken as is,
		// not inferred from the body.
		return json.Marshal(events.APIGatewayV2HTTPResponse{StatusCode: r.StatusCode, Headers: headers, Body: r.Body})
	case ShapeAWSFunctionURL:
		return json.Marshal(events.LambdaFunctionURLResponse{StatusCode: r.StatusCode, Headers: headers, Body: r.Body})
	}
	r.IsBase64Encoded = false
	return json.Marshal(r)
}
