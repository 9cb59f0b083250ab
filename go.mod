module github.com/mpgw-keyrotator/mpgw-keyrotator

go 1.26.0

require (
	github.com/aws/aws-lambda-go v1.55.1
	github.com/awslabs/goformation/v7 v7.14.9
	github.com/standard-webhooks/standard-webhooks/libraries v0.0.1
	github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common v1.3.211
)

require gopkg.in/yaml.v3 v3.0.1 // indirect
