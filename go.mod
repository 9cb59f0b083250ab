module github.com/mpgw-keyrotator/mpgw-keyrotator

go 1.26.0

require (
	github.com/aws/aws-lambda-go v1.55.1
	github.com/standard-webhooks/standard-webhooks/libraries v0.0.1
	github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common v1.3.211
)
