package agent

import (
	"errors"
	"testing"

	"github.com/fieldline/fieldline/internal/confkit"
)

// FuzzConfig feeds arbitrary YAML to the agent's config loader (with the
// protocol sections inside): it returns a config or a list of problems,
// never panics.
func FuzzConfig(f *testing.F) {
	f.Add(SampleConfig)
	f.Add([]byte("agent: {id: gw-1}\nsources: {modbus: [{name: a, url: 'tcp://x:1', units: [{id: 1, groups: [{name: g, interval: 1s, registers: [{sensor: s, table: holding, address: 0, type: float32}]}]}]}]}\n"))
	f.Add([]byte("agent: {id: gw-1}\nsources: {mqtt: [{name: m, brokers: ['mqtt://x:1'], subscriptions: [{topic: 'a/+/b', sensor: 'a.<+>.b'}]}]}\n"))
	f.Add([]byte("agent: {id: gw-1}\nsources: {gpio: [{name: g, pins: [{pin: GPIO17, sensor: d, mode: input, edge: both}]}]}\n"))
	f.Add([]byte("buffer: {flush_interval: -1s, max_bytes: 1KiB}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Config
		err := decodeConfig("agent.yaml", data, &c)
		var ce *confkit.Error
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("error %v is not a problem list", err)
		}
	})
}
