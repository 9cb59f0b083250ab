// Package envmap is an environment held in memory instead of the
// process's: the function's Getenv reads it while the SCF runtime's Setenv
// writes each invoke's Environment to it. The demo and the tests run the
// function on one.
package envmap

import (
	"maps"
	"sync"
)

// Env is a set of variables, safe for concurrent use.
type Env struct {
	mu   sync.Mutex
	vars map[string]string
}

// New returns an Env holding a copy of vars.
func New(vars map[string]string) *Env { return &Env{vars: maps.Clone(vars)} }

// Get returns the value of k, "" if unset.
func (e *Env) Get(k string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.vars[k]
}

// Set sets k to v. It never fails: its signature is the runtime's Setenv.
func (e *Env) Set(k, v string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.vars == nil {
		e.vars = map[string]string{}
	}
	e.vars[k] = v
	return nil
}
