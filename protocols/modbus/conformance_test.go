package modbus

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fieldline/fieldline/firmware-sim/modbussim"
	"github.com/fieldline/fieldline/internal/testbed/sourcetest"
	"github.com/fieldline/fieldline/protocols/source"
)

// TestConformance runs the suite every source passes against the
// simulator's first unit over Modbus TCP, polled every 20 ms; its outage
// stops the simulator's TCP server and starts it again on the same port.
func TestConformance(t *testing.T) {
	s := newSim(t, nil, nil)
	var mu sync.Mutex
	ctx, stop := context.WithCancel(context.Background())
	addr, err := s.ListenTCP(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mu.Lock(); stop(); mu.Unlock() })
	unit := mirror(modbussim.DefaultConfig().Units[0], 20*time.Millisecond)
	var sensors []string
	for _, r := range unit.Groups[0].Registers {
		sensors = append(sensors, r.Sensor)
	}
	sourcetest.Run(t, sourcetest.Harness{
		New: func(t *testing.T) source.Source {
			src, err := New(Config{Name: "conformance", URL: "tcp://" + addr.String(), Timeout: 2 * time.Second,
				ReconnectBackoff: Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
				Units:            []UnitConfig{unit}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			return src
		},
		Sensors: sensors,
		// The simulator's server listening again.
		PeerGoroutines: []goleak.Option{
			goleak.IgnoreAnyFunction("github.com/fieldline/fieldline/firmware-sim/modbussim.(*Sim).ListenTCP.func1"),
			goleak.IgnoreAnyFunction("github.com/simonvetter/modbus.(*ModbusServer).acceptTCPClients"),
			goleak.IgnoreAnyFunction("github.com/simonvetter/modbus.(*ModbusServer).handleTCPClient"),
		},
		Outage: func(t *testing.T) func() {
			mu.Lock()
			stop()
			mu.Unlock()
			return func() {
				mu.Lock()
				defer mu.Unlock()
				ctx, stop = context.WithCancel(context.Background())
				if _, err := s.ListenTCP(ctx, addr.String()); err != nil {
					t.Fatalf("listening again on %s: %v", addr, err)
				}
			}
		},
	})
}
