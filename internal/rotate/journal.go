package rotate

import (
	"sync"

	"github.com/mpgw-keyrotator/mpgw-keyrotator/internal/sink"
)

// Memory remembers rotation records in this process. It is the journal of
// last resort: with only a webhook sink nothing durable can hold a record,
// so a retry that lands on another instance cannot know what this one did.
// Keep one Memory for the life of the process.
type Memory struct {
	mu      sync.Mutex
	records map[string]sink.Record
}

// NewMemory returns an empty journal.
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
