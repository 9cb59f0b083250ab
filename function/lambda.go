package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	keyrotator "github.com/mpgw-keyrotator/mpgw-keyrotator"
)

// startLambda serves the AWS Lambda runtime API with the same dispatch as
// on SCF.
func startLambda(h *keyrotator.Handler) { lambda.Start(h.LambdaHandler()) }
