package rules_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/rules"
)

// Compile lists every problem of a bundle with its line and path, as
// `fieldline-agent check-rules` and the cloud print them.
func ExampleCompile() {
	bundle := []byte(`version: "1"
name: plant
rules:
  - match: "boiler.*.temp"
    transform: {expr: "valu * 0.1"}
    deadband: {absolute: -0.5}
    alerts:
      - {name: hot, above: 95, clear_below: 99}
`)
	_, err := rules.Compile("plant.yaml", bundle)
	var ce *confkit.Error
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// line 5: rules[0].transform.expr: unknown name valu (column 1)
	// line 6: rules[0].deadband.absolute: must be ≥ 0, got -0.5
	// line 8: rules[0].alerts[0].clear_below: must be ≤ above (95), got 99
}

// An engine scales a raw temperature, keeps changes beyond the deadband
// and raises an alert with hysteresis.
func ExampleEngine() {
	prog, err := rules.Compile("boiler.yaml", []byte(`version: "1"
name: boiler
rules:
  - match: "boiler.*.temp"
    transform: {scale: 0.1}
    deadband: {absolute: 0.5}
    alerts:
      - {name: hot, above: 95, clear_below: 90, severity: critical}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	eng := rules.NewEngine(prog, rules.Options{})
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	var in []fieldline.Reading
	for i, raw := range []float64{900, 902, 960, 958, 899} {
		in = append(in, fieldline.Reading{SensorID: "boiler.1.temp", TimeNs: t0.Add(time.Duration(i) * time.Second).UnixNano(), Value: raw})
	}
	var out rules.Output
	eng.Process(in, &out)
	for _, r := range out.Telemetry {
		fmt.Printf("telemetry %s %g\n", r.SensorID, r.Value)
	}
	for _, r := range out.Alerts {
		fmt.Printf("alert lane, state %g: %s\n", r.Value, r.Text)
	}
	// Output:
	// telemetry boiler.1.temp 90
	// telemetry boiler.1.temp 96
	// telemetry boiler.1.temp 89.9
	// alert lane, state 2: {"alert":"hot","state":"firing","severity":"critical","labels":{},"value":96,"threshold":95}
	// alert lane, state 0: {"alert":"hot","state":"resolved","severity":"critical","labels":{},"value":89.9,"threshold":90}
}
