package rotate

import (
	"sync"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

// Memory keeps rotation records in this process, beside the durable ones in
// the stores. With only a webhook sink it is the only record, so a retry
// that lands on another instance cannot know what this one did.
// Keep one Memory for the life of the process.
type Memory struct {
	mu      sync.Mutex
	records map[string]sink.Record
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{records: map[string]sink.Record{}} }

func (m *Memory) load(zone string) (sink.Record, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[zone]
	return r, ok
}

func (m *Memory) save(zone string, r sink.Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records[zone] = r
}
