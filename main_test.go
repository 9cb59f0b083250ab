package keyrotator_test

import (
	"flag"
	"os"
	"strconv"
	"testing"
)

// raceEnabled is set by race_test.go in a -race build.
var raceEnabled bool

// TestMain runs more tests at once than -test.parallel's default unless
// -parallel is given. Most tests here wait on production timers
// (deadlines, retry pacing, the 20/s rate limit, attempt timeouts), not on
// the CPU, and the default is GOMAXPROCS: on a 2-core machine two at a time
// made the package take half a minute of mostly idle waiting. Not without
// bound: a few tests prove production timing with a margin of a second or
// so (TestReceiverDownRefreshesOneZone, TestLittleTimeManyZones), which a
// starved CPU eats; under -race, where the package is CPU-bound anyway,
// fewer still.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	// When fuzzing, -parallel is the number of fuzzing processes: left alone.
	fuzzing := flag.Lookup("test.fuzz") != nil && flag.Lookup("test.fuzz").Value.String() != ""
	if !explicit && !fuzzing {
		n := 16
		if raceEnabled {
			n = 8
		}
		if err := flag.Set("test.parallel", strconv.Itoa(n)); err != nil {
			panic(err)
		}
	}
	code := m.Run()
	removeBuiltBinary()
	os.Exit(code)
}
