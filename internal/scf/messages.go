package scf

// The message types of the Tencent SCF Go1 runtime protocol, as defined by
// github.com/tencentyun/scf-go-lib/cloudfunction/messages (itself a port of
// aws-lambda-go's lambda/messages). The platform encodes them with gob, which
// matches struct fields by name, so the field names and types must stay exactly
// as they are; the underscored type names are kept for recognisability only.
// They are exported because net/rpc refuses unexported argument types.

// PingRequest is the argument of Function.Ping, the platform's liveness probe.
type PingRequest struct{}

// PingResponse is the reply of Function.Ping.
type PingResponse struct{}

// InvokeRequest_Timestamp is the invocation deadline as Unix seconds and nanoseconds.
type InvokeRequest_Timestamp struct {
	Seconds int64
	Nanos   int64
}

// InvokeRequest is the argument of Function.Invoke: one event plus what the
// platform knows about the call.
type InvokeRequest struct {
	Payload               []byte
	RequestId             string
	TraceId               string
	Deadline              InvokeRequest_Timestamp
	InvokedFunctionUnique string
	ClientContext         []byte
	Namespace             string
	FunctionName          string
	FunctionVersion       string
	MemoryLimitInMb       int32
	TimeLimitInMs         int32
	// Environment is a JSON object of variables (the execution role's
	// temporary credentials among them) to set before the handler runs.
	Environment        string
	TencentcloudRegion string
	TencentcloudAppID  string
	TencentcloudUin    string
	FunctionTrace      string
}

// InvokeResponse_Error_StackFrame is one frame of a recovered panic's stack.
type InvokeResponse_Error_StackFrame struct {
	Path  string `json:"path"`
	Line  int32  `json:"line"`
	Label string `json:"label"`
}

// InvokeResponse_Error reports a failed invocation in-band.
type InvokeResponse_Error struct {
	Message    string                             `json:"errorMessage"`
	Type       string                             `json:"errorType"`
	StackTrace []*InvokeResponse_Error_StackFrame `json:"stackTrace,omitempty"`
	// ShouldExit asks the platform to recycle the instance, set after a
	// panic because the process state can no longer be trusted.
	ShouldExit bool `json:"-"`
}

// InvokeResponse is the reply of Function.Invoke: the handler's result, or
// Error when it failed.
type InvokeResponse struct {
	Payload []byte
	Error   *InvokeResponse_Error
}
