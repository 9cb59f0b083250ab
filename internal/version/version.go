// Package version identifies the build. build.sh stamps Version and Commit
// with -ldflags "-X".
package version

import (
	"fmt"
	"runtime"
)

var (
	Version = "dev"
	Commit  = "unknown"
)

// String is one line: name, version, commit, Go version.
func String() string {
	return fmt.Sprintf("mpgw-keyrotator %s (commit %s, %s %s/%s)", Version, Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
