package demo

import (
	"fmt"
	"time"
)

// modbusConfig is the demo's Modbus simulator: three devices (a boiler, an
// energy meter, a chiller). The boiler's temperature spikes by 30 °C for
// anomalyFor every anomalyEvery, the first time anomalyAfter after start:
// the demo's anomaly, which the demo's alert rule catches.
func modbusConfig(start time.Time, o Options) string {
	every := o.AnomalyEvery
	// The signal's clock starts at the Unix epoch; place the spikes so the
	// first begins AnomalyAfter from now.
	first := start.Add(o.AnomalyAfter)
	offset := time.Duration(first.UnixNano() % every.Nanoseconds()).Truncate(time.Second)
	if offset+o.AnomalyFor > every {
		// A spike must not wrap around its period: start it at the next
		// period instead, less than AnomalyFor later.
		offset = 0
	}
	return fmt.Sprintf(`# written by fieldline-cloud demo
units:
  - id: 1
    name: boiler
    registers:
      - {name: temperature, table: holding, address: 0, type: int16, scale: 0.1,
         signal: {shape: drift, base: 21.5, amplitude: 1.5, drift: 0.5, noise: 0.1, resolution: 0.1, period: 10m, seed: 1,
                  anomalies: [{kind: spike, every: %s, offset: %s, for: %s, magnitude: 30}]}}
      - {name: pressure, table: holding, address: 1, type: uint16, scale: 0.01,
         signal: {shape: loop, base: 1.5, amplitude: 1.0, period: 2m, noise: 0.01, resolution: 0.01, seed: 2}}
      - {name: flow, table: holding, address: 4, type: float32,
         signal: {shape: drift, base: 12.5, amplitude: 2, noise: 0.05, resolution: 0.01, period: 5m, seed: 3}}
      - {name: pump, table: coil, address: 0, signal: {shape: square, period: 2m, duty: 0.5}}
  - id: 2
    name: meter
    registers:
      - {name: voltage, table: input, address: 0, type: float32,
         signal: {shape: drift, base: 230, amplitude: 3, noise: 0.2, resolution: 0.1, period: 15m, seed: 6}}
      - {name: current, table: input, address: 2, type: float32,
         signal: {shape: drift, base: 12, amplitude: 4, noise: 0.1, resolution: 0.01, period: 10m, seed: 7}}
      - {name: power, table: input, address: 4, type: int32,
         signal: {shape: drift, base: 2700, amplitude: 900, noise: 20, resolution: 1, period: 10m, seed: 8}}
  - id: 3
    name: chiller
    registers:
      - {name: supply, table: holding, address: 0, type: int16, scale: 0.1,
         signal: {shape: drift, base: 6.5, amplitude: 0.8, noise: 0.05, resolution: 0.1, period: 7m, seed: 11}}
      - {name: return, table: holding, address: 1, type: int16, scale: 0.1,
         signal: {shape: drift, base: 12, amplitude: 1.2, noise: 0.08, resolution: 0.1, period: 9m, seed: 12}}
      - {name: compressor, table: holding, address: 2, type: uint16, scale: 0.1,
         signal: {shape: loop, base: 40, amplitude: 35, period: 3m, noise: 0.5, resolution: 0.1, seed: 13}}
`, every, offset, o.AnomalyFor)
}

// The agents' sources. Agent 1 reads the boiler and the meter over Modbus,
// agent 2 the plant's MQTT sensors, agent 3 the chiller over Modbus and
// its own GPIO pins (door, flow meter, energy meter, pump relay).
func modbusBoilerSource(sim string, interval time.Duration) string {
	return fmt.Sprintf(`  modbus:
    - name: boiler-house
      url: tcp://%s
      units:
        - id: 1
          groups:
            - name: boiler
              interval: %s
              registers:
                - {sensor: boiler.temp, table: holding, address: 0, type: int16, scale: 0.1, unit: °C}
                - {sensor: boiler.pressure, table: holding, address: 1, type: uint16, scale: 0.01, unit: bar}
                - {sensor: boiler.flow, table: holding, address: 4, type: float32, unit: m³/h}
                - {sensor: boiler.pump, table: coil, address: 0}
        - id: 2
          groups:
            - name: meter
              interval: %s
              registers:
                - {sensor: meter.voltage, table: input, address: 0, type: float32, unit: V}
                - {sensor: meter.current, table: input, address: 2, type: float32, unit: A}
                - {sensor: meter.power, table: input, address: 4, type: int32, unit: W}
`, sim, interval, interval)
}

func modbusChillerSource(sim string, interval time.Duration) string {
	return fmt.Sprintf(`  modbus:
    - name: chiller
      url: tcp://%s
      units:
        - id: 3
          groups:
            - name: chiller
              interval: %s
              registers:
                - {sensor: chiller.supply, table: holding, address: 0, type: int16, scale: 0.1, unit: °C}
                - {sensor: chiller.return, table: holding, address: 1, type: int16, scale: 0.1, unit: °C}
                - {sensor: chiller.compressor, table: holding, address: 2, type: uint16, scale: 0.1, unit: "%%"}
`, sim, interval)
}

func mqttSource(agent, broker string) string {
	return fmt.Sprintf(`  mqtt:
    - name: plant
      brokers: [mqtt://%s]
      client_id: %s-plant
      subscriptions:
        - {topic: plant/+/temp, sensor: plant.<+>.temp}
        - {topic: plant/pump/pressure_kpa, sensor: plant.pump.pressure, scale: 0.01}
        - topic: plant/+/env
          format: json
          timestamp: {path: ts, format: unix_ms}
          values:
            - {path: env.temp, sensor: plant.<+>.temp, optional: true}
            - {path: env.hum, sensor: plant.<+>.humidity, optional: true}
            - {path: energy_wh, sensor: plant.<+>.energy_kwh, kind: counter, scale: 0.001, optional: true}
        - {topic: plant/+/level/+, sensor: plant.<+>.level_<+>, kind: bool}
`, broker, agent)
}

const gpioSource = `  gpio:
    - name: pump-house
      heartbeat: 10s
      pins:
        - {pin: SIM_DOOR, sensor: pumphouse.door.open, mode: input, edge: both, debounce: 20ms}
        - {pin: SIM_FLOW, sensor: pumphouse.flow, mode: counter, edge: rising, pulses_per_unit: 450, report_interval: 2s, rate_window: 30s}
        - {pin: SIM_ENERGY, sensor: pumphouse.energy.kwh, mode: counter, edge: rising, pulses_per_unit: 1000, report_interval: 5s, rate_window: 60s}
        - {pin: SIM_PUMP, sensor: pumphouse.pump.on, mode: output, output: pump}
`

// agentConfig is one agent's config file. clock_sync: floor: the demo's
// agents trust this machine's clock as it is. A machine without a time
// daemon (a container, a laptop offline) has a kernel that calls its clock
// unsynchronised, and the agents would flag every reading (the processor
// keeps flagged readings out of the windows).
//
// The agents belong to the fleet demo and trust the demo's fleet key
// (trusted, inline): they run the bundle pushed to fleet.demo.
func agentConfig(id, dir, natsURL, httpAddr, trusted, sources string) string {
	return fmt.Sprintf(`# written by fieldline-cloud demo
agent: {id: %s, data_dir: %s, clock_sync: floor, fleet: %s}
uplink: {nats: {url: "%s"}, status_interval: 1s}
rules: {trusted_keys: ["%s"]}
http: {listen: "%s"}
sources:
%s`, id, dir, demoFleet, natsURL, trusted, httpAddr, sources)
}

// alertRules are the demo processor's alert rules: the boiler's spike
// fires boiler-overheat within seconds and resolves when it ends; the
// meter's power, drifting over ten minutes, now and then a window rule;
// a silent agent, an absence rule.
const alertRules = `# written by fieldline-cloud demo
rules:
  - name: boiler-overheat
    match: {sensor: boiler.temp}
    condition: value > 40
    clear: value < 30
    for: 3s
    severity: critical
    annotations:
      summary: "{{.Agent}} {{.Sensor}} at {{printf \"%.1f\" .Value}} °C"
  - name: meter-power-high
    match: {sensor: meter.power}
    window: 5s
    condition: mean > 3400
    clear: mean < 3300
    for: 15s
    severity: warning
    annotations:
      summary: "{{.Agent}} draws {{printf \"%.0f\" .Value}} W on average over {{.Window}}"
  - name: gateway-offline
    match: {agent: "**"}
    offline: 30s
    severity: critical
    annotations:
      summary: "{{.Agent}} sent nothing for 30s"
`
