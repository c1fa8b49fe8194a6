package mqtt_test

import (
	"fmt"
	"time"

	"github.com/fieldline/fieldline/protocols/mqtt"
)

// One JSON message with several values, its time taken from the message,
// and the wildcard mapped into the sensor ids.
func ExampleParser_Parse() {
	p, err := mqtt.NewParser(mqtt.Subscription{
		Topic:     "plant/+/env",
		Format:    mqtt.FormatJSON,
		Timestamp: &mqtt.Timestamp{Path: "ts", Format: mqtt.TSUnixMs},
		Values: []mqtt.Value{
			{Path: "env.temp", Sensor: "plant.<+>.temp"},
			{Path: "energy_wh", Sensor: "plant.<+>.energy_kwh", Kind: mqtt.KindCounter, Scale: 0.001},
		},
	}, 64<<10)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, ok := p.Match("plant/line1/env", nil)
	fmt.Println(ok, m.Wild)
	rs, err := p.Parse(m, []byte(`{"ts":1767225600000,"env":{"temp":"21.5"},"energy_wh":1234}`), time.Now(), nil)
	for _, r := range rs {
		fmt.Println(r.SensorID, r.Value, r.Kind, time.Unix(0, r.TimeNs).UTC().Format(time.RFC3339))
	}
	fmt.Println(err)

	_, err = p.Parse(m, []byte(`{"ts":1767225600000,"env":{"temp":"warm"}`), time.Now(), nil)
	fmt.Println(err)
	// Output:
	// true [line1]
	// plant.line1.temp 21.5 float 2026-01-01T00:00:00Z
	// plant.line1.energy_kwh 1.234 counter 2026-01-01T00:00:00Z
	// <nil>
	// malformed payload on plant/line1/env: unexpected EOF (bad_json)
}
