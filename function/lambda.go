package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"

	keyrotator "github.com/mpgw-keyrotator/mpgw-keyrotator"
)

// startLambda serves the AWS Lambda runtime API. The raw event goes to the
// same dispatch as on SCF; the answer is already JSON.
func startLambda(h *keyrotator.Handler) {
	lambda.Start(func(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
		return h.Invoke(ctx, event)
	})
}
