package source_test

import (
	"context"
	"fmt"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/source"
)

// TickConfig is the typed config of a made-up protocol.
type TickConfig struct {
	Name    string
	Sensors []string
}

// tick emits one reading per sensor, once, then waits for the end. It has
// no peer to lose: source.Local gives it Connect and Close.
type tick struct {
	source.Local
	cfg TickConfig
}

func (t *tick) Name() string { return "tick/" + t.cfg.Name }

func (t *tick) Read(ctx context.Context, emit func([]fieldline.Reading)) error {
	var rs []fieldline.Reading
	for i, id := range t.cfg.Sensors {
		rs = append(rs, fieldline.Reading{SensorID: id, TimeNs: 1, Value: float64(i)})
	}
	emit(rs)
	<-ctx.Done()
	return nil
}

// A protocol registers under its name with a factory of its typed config;
// the runtime builds a source from a config and runs it until its context
// ends.
func Example() {
	var reg source.Registry
	_ = source.Add(&reg, "tick", func(c TickConfig) (source.Source, error) { return &tick{cfg: c}, nil })
	err := source.Add(&reg, "tick", func(c TickConfig) (source.Source, error) { return nil, nil })
	fmt.Println(err)

	src, _ := source.Build(&reg, "tick", TickConfig{Name: "demo", Sensors: []string{"a", "b"}})
	ctx, cancel := context.WithCancel(context.Background())
	_ = source.Run(ctx, src, func(rs []fieldline.Reading) {
		for _, r := range rs {
			fmt.Println(src.Name(), r.SensorID, r.Value)
		}
		cancel()
	}, source.Options{})
	// Output:
	// registering protocol "tick": protocol already registered
	// tick/demo a 0
	// tick/demo b 1
}
