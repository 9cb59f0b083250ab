//go:build race

package keyrotator_test

func init() { raceEnabled = true }
