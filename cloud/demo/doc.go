// Package demo runs the whole Fieldline system on one machine with nothing
// installed beyond Go: an embedded NATS server (with JetStream), an
// embedded Kafka (kfake), the fleet server, the bridge, the processor
// (with the demo's alert rules) and the dashboard in this process, the Modbus and MQTT simulators
// and two agents as child processes (the real binaries), and a third agent
// in this process, because the simulated GPIO pins it reads live in the
// process that registers them. `make demo` and `fieldline-cloud demo` use
// it.
//
// # Basics
//
// Run prints the dashboard's address first, then where every part listens,
// then a progress line every Options.Progress. The boiler's temperature
// (Modbus, agent demo-001) spikes by 30 °C for Options.AnomalyFor, first
// Options.AnomalyAfter after the start and then every Options.AnomalyEvery
// (a spike anomaly of the simulator's signal, placed on its clock), and the
// rule boiler-overheat fires and resolves: what the browser test watches.
// At start the demo makes a fleet key, which every agent trusts, and
// pushes a signed bundle (version demo-1) to fleet.demo, so that the
// dashboard's fleet view shows it applied; Addrs.FleetKey pushes more.
//
// # Caveats
//
// It is a showcase and a smoke test, not a deployment: every part listens on
// loopback, state lives in a temporary directory, and Kafka keeps records in
// memory. The agents' clocks are trusted as they are (clock_sync: floor).
package demo
