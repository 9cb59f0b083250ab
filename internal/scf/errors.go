package scf

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
)

// maxStackFrames bounds a panic's reported stack, as scf-go-lib does.
const maxStackFrames = 32

// call runs h, turning an error or a panic into the in-band error of the
// protocol so that one bad event cannot take the instance down.
func call(ctx context.Context, h Handler, payload []byte) (out []byte, e *InvokeResponse_Error) {
	defer func() {
		if v := recover(); v != nil {
			out, e = nil, panicError(v)
		}
	}()
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		return nil, &InvokeResponse_Error{Message: err.Error(), Type: typeName(err, "error")}
	}
	return out, nil
}

// causeError reports a runtime-side failure: the message says what was being
// done, the type is the cause's (e.g. json's SyntaxError) so the console
// shows the same kind of error scf-go-lib would.
func causeError(what string, cause error) *InvokeResponse_Error {
	return &InvokeResponse_Error{Message: what + ": " + cause.Error(), Type: typeName(cause, "error")}
}

func panicError(v any) *InvokeResponse_Error {
	return &InvokeResponse_Error{
		Message:    "panic: " + fmt.Sprint(v),
		Type:       typeName(v, "panic"),
		StackTrace: panicStack(),
		ShouldExit: true,
	}
}

// typeName is the bare name of v's dynamic type, pointer and package removed,
// which is what scf-go-lib reports as the error type; unnamed types (a
// panicking []int, say) get fallback.
func typeName(v any, fallback string) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return fallback
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "" {
		return fallback
	}
	return t.Name()
}

// panicStack returns the panicking goroutine's stack from the frame that
// panicked. It must be called from the deferred function that recovered: the
// frames up to runtime.gopanic are then the recovery machinery, not the bug.
func panicStack() []*InvokeResponse_Error_StackFrame {
	// Room for the recovery frames above gopanic plus the frames reported.
	pcs := make([]uintptr, maxStackFrames+16)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	var stack []*InvokeResponse_Error_StackFrame
	inPanic := false
	for len(stack) < maxStackFrames {
		f, more := frames.Next()
		if inPanic {
			stack = append(stack, &InvokeResponse_Error_StackFrame{Path: f.File, Line: int32(f.Line), Label: f.Function})
		} else {
			inPanic = f.Function == "runtime.gopanic"
		}
		if !more {
			break
		}
	}
	return stack
}
