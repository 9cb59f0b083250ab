package scf

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Invocation is what the platform tells the function about the current call.
type Invocation struct {
	RequestID             string
	TraceID               string
	FunctionName          string
	FunctionVersion       string
	Namespace             string
	Region                string
	AppID                 string
	Uin                   string
	InvokedFunctionUnique string
	MemoryLimitInMB       int32
	TimeLimitInMs         int32
	// Deadline is zero when the platform sent none.
	Deadline time.Time
	// Environment is the decoded request Environment. It carries the execution
	// role's temporary credentials: never log it.
	Environment map[string]string
}

// String leaves out Environment, which holds the role's secret key and token.
func (inv Invocation) String() string {
	return fmt.Sprintf("invocation %s of %s/%s in %s", inv.RequestID, inv.Namespace, inv.FunctionName, inv.Region)
}

// GoString, Format, LogValue and MarshalText leave it out of %#v, %+v,
// slog and encoders as well.
func (inv Invocation) GoString() string             { return inv.String() }
func (inv Invocation) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte(inv.String())) }
func (inv Invocation) LogValue() slog.Value         { return slog.StringValue(inv.String()) }
func (inv Invocation) MarshalText() ([]byte, error) { return []byte(inv.String()), nil }

type invocationKey struct{}

// NewContext returns a copy of ctx carrying inv.
func NewContext(ctx context.Context, inv Invocation) context.Context {
	return context.WithValue(ctx, invocationKey{}, inv)
}

// FromContext returns the Invocation stored in ctx by NewContext.
func FromContext(ctx context.Context) (Invocation, bool) {
	inv, ok := ctx.Value(invocationKey{}).(Invocation)
	return inv, ok
}
