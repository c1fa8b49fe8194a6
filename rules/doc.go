// Package rules is the Fieldline edge rule engine: the rule language (a YAML
// bundle), its compiler and validator, and the evaluator that runs on every
// reading on the agent. It decides what leaves the gateway: most sensor data
// is boring and cellular bytes cost money. The cloud uses the same code
// (Compile) to check a bundle before it pushes it, so a bundle the cloud
// accepts is one the agent runs.
//
// It owns the bundle format, selector precedence, the per-sensor pipeline,
// alert states and the action queue. It must not know where readings come
// from or go to (sources, buffer, forwarder), how a bundle travels (NATS KV,
// signatures) or what an output or a broker is: the agent adapts its GPIO
// outputs and MQTT publisher to the Actions interface.
//
// # Basics
//
// Compile is the one way in: it turns a bundle (YAML bytes) into a Program,
// or lists every problem in one *confkit.Error, each with its line and path
// (`line 8: rules[3].deadband.absolute: must be ≥ 0, got -1`) or, for what
// YAML itself rejects, its line (`line 4: found unexpected end of stream`).
// The agent, check-rules, check-config and the cloud all call it. NewEngine
// runs a Program; the agent's pipeline goroutine calls Process with each
// batch of readings and Tick every 100 ms to 1 s, and sends
// Output.Telemetry to the telemetry lane and Output.Alerts to the alert
// lane. Swap installs a new Program between two readings.
// ShiftTime tells the engine that the clock was stepped (see Clock steps).
//
//	prog, err := rules.Compile("boiler.yaml", data)
//	eng := rules.NewEngine(prog, rules.Options{Actions: myActions})
//	defer eng.Close(ctx)
//	var out rules.Output
//	eng.Process(readings, &out) // out.Telemetry, out.Alerts
//	out.Reset()
//
// A bundle (SampleBundle is a full example):
//
//	version: "2026-11-25.1"      # required; reported by the agent
//	name: boiler-room            # required
//	rules:
//	  - match: "boiler.*.temp"   # selector, required (see Selectors)
//	    transform: {scale: 0.1, offset: -40}  # or {expr: "value * 1.8 + 32"}
//	    drop_if: "value < -50 || quality == 2"
//	    deadband: {absolute: 0.5}             # and/or {percent: 2}
//	    min_interval: 5s                      # rate limit
//	    max_interval: 5m                      # heartbeat
//	    aggregate: {window: 60s, fn: mean}    # mean, min, max, last; grace: 1s
//	    alerts:
//	      - name: boiler-overheat             # letters, digits, . _ -
//	        above: 95                         # or below:
//	        clear_below: 90                   # with above; clear_above with below
//	        for: 30s
//	        severity: critical                # info, warning (default), critical
//	        labels: {site: plant-a}
//	        actions:
//	          - set_output: {output: relay1, on: true}   # latch: true keeps it on
//	          - publish: {topic: alerts/boiler, payload: '{{.Alert}} {{.State}}', states: [firing, resolved]}
//
// Durations are Go durations with a unit ("250ms", "5m"); a bare number is
// an error. Unknown keys are errors.
//
// Selectors. `*` matches any run of characters within one dot-separated
// segment, `**` any run across segments, `?` one character other than '.'.
// A sensor takes the single most specific rule that matches it, ordered by:
// an exact id (no wildcard) first; then fewer wildcards (`*` and `?` count
// one, `**` two); then the longer literal prefix before the first wildcard;
// then the rule earlier in the file. Two rules with the same selector are an
// error. A sensor no rule matches passes through unchanged; `match: "**"`
// is a catch-all.
//
// The pipeline of a reading, in this order:
//
//  1. transform: value·scale + offset (scale defaults to 1), or an
//     expression returning a number. A transform that turns a finite value
//     into NaN or ±Inf (a division by dt = 0) drops the reading; the
//     reading still becomes prev_raw for the next one, so a rate
//     "(value - prev_raw) / dt" starts with the second reading.
//  2. drop_if: an expression returning a bool; true drops the reading.
//  3. alerts: every reading kept so far whose quality is not bad is
//     evaluated, before the deadband and the rate limit, so that alerts
//     see every value.
//  4. aggregate: readings are folded into tumbling windows of `window`
//     aligned to the Unix epoch; the window's reading (stamped with the
//     window's start) goes on to the next steps when a reading of a later
//     window arrives, or when Tick runs past the window's end plus `grace`
//     (default 1s, window/2 for windows of 2s or less). A reading for a
//     window already closed is dropped as late. Bad readings are left out of
//     the value and make the result uncertain, or bad with the last bad
//     value when nothing else came.
//  5. max_interval: a reading at least max_interval after the last one sent
//     is sent whatever the deadband says.
//  6. min_interval: a reading sooner than min_interval after the last one
//     sent is dropped (leading edge: the first passes).
//  7. deadband: a reading is dropped when its quality equals the last sent
//     one's and |value − last sent| ≤ max(absolute, percent/100·|last sent|).
//     The band is inclusive: with absolute: 0.5 a change of exactly 0.5 is
//     dropped; absolute: 0 drops exact repeats only. The first reading is
//     always sent.
//
// Heartbeat: a reading dropped by steps 6 or 7 is held; when Tick finds the
// last sent reading older than max_interval, it sends the held reading with
// its own timestamp. The heartbeat never invents a value: when a sensor
// stops reporting, its heartbeat stops too (detecting silence is the
// cloud's absence alert).
//
// Expressions use github.com/expr-lang/expr, compiled once, type-checked at
// compile time against Env: value (raw in a transform, transformed in
// drop_if), raw, prev and prev_raw (the previous reading kept by drop_if,
// after and before the transform; NaN on the first reading), first, dt
// (seconds since prev; 0 on the first reading), quality (0 good, 1
// uncertain, 2 bad), sensor and ts (Unix ns). A transform must return a
// number and drop_if a bool; an unknown name or a wrong type is a compile
// error naming the column. A run-time error (rare: a failed builtin) drops
// the reading, is counted (reason expr_error) and logged once per rule.
//
// Alerts. `above: 95` triggers when value > 95 and clears when value <
// clear_below (default: the trigger threshold); `below` mirrors it with
// clear_above. A value exactly on a threshold never changes the state;
// between the two thresholds the state holds (hysteresis). With `for` 0 an
// alert fires at once; otherwise it goes pending, and fires when it is still
// pending `for` after the reading that triggered it: on a reading (its
// TimeNs) or on a Tick (its now). A pending alert whose value clears before
// then goes back to ok. When readings stop arriving the last value is taken
// to hold: Tick fires a pending alert once `for` has passed, and a firing
// alert stays firing until a reading clears it.
//
// Each transition is one reading on the alert lane, emitted exactly once:
// Kind fieldline.KindEvent, SensorID the sensor, TimeNs the reading's or the
// Tick's time, Value the new state (0 ok/resolved, 1 pending, 2 firing) and
// Text a compact JSON object (see AlertEvent and ParseAlertEvent):
//
//	{"alert":"boiler-overheat","state":"firing","severity":"critical","labels":{"site":"plant-a"},"value":97.5,"threshold":95}
//
// state is pending, firing, resolved (a firing alert cleared) or ok (a
// pending alert cleared without firing); threshold is the trigger threshold
// for pending and firing and the clear threshold otherwise; a "reason":
// "rule_changed" marks an alert ended because a Swap or RestoreState removed
// or changed it.
//
// Actions run on transitions, on the agent, with no cloud connection:
// set_output sets the output to `on` (default true) when the alert fires and
// back to !on when it resolves (unless latch: true); publish sends a
// message to the local broker on the listed states (default firing and
// resolved), its payload text with placeholders for the fields of
// AlertEvent ({{.Alert}}, {{.State}}, {{.Sensor}}, {{.Value}},
// {{.Threshold}}, {{.Severity}}, {{.Reason}}, {{.Labels}},
// {{.Labels.NAME}}, {{.TimeNs}}, {{.Text}}: the field references of Go's
// text/template, rendered to the same bytes, without its pipelines) or,
// when empty, the event's JSON.
// A goroutine owned by the engine runs them one at a time in order from a
// bounded queue (Options.ActionQueue): a full queue drops the action, a
// failing action is retried with doubling backoff (Options.ActionAttempts,
// ActionBackoff) then counted and logged. Process never waits for them.
//
// State. MarshalState and RestoreState carry the alert states, the last
// values and open windows across a restart, so that an alert already firing
// does not fire again. Swap keeps a sensor's pipeline state when its rule's
// pipeline (everything but match and alerts) is unchanged, and an alert's
// state when the new rule has an alert of the same name and definition.
//
// Errors counts the run-time errors (failed expressions, actions failed
// for good); the agent reports it in its heartbeat as rule_errors, where a
// canary rollout watches it.
//
// Metrics (NewMetrics): fieldline_rules_readings_in_total, _readings_out_total,
// _heartbeats_total, _dropped_readings_total{reason}: filter, deadband,
// rate_limit, transform, expr_error, aggregated, late;
// _alert_transitions_total{state}, _actions_total{kind,result},
// _action_retries_total, _program_info{name,version}, _swaps_total,
// _sensors.
//
// # Caveats
//
// Alerts look at each reading, not at aggregates; an aggregate only shapes
// what is sent.
//
// The rate limit keeps the first reading of an interval, not the last: a
// change dropped by min_interval is sent by the next reading that passes
// or by the heartbeat. A reading older than the last one sent is not
// rate-limited.
//
// Reading time (TimeNs) and Tick time (now) must come from the same clock;
// the agent stamps readings with the clock it ticks with.
//
// Clock steps. Durations (`for`, min_interval, max_interval, dt, windows)
// are differences of times the engine kept and times it is given, so a
// step of the clock would count as time passed: NTP setting a gateway that
// booted in 1970 would make every pending alert 56 years old and fire it,
// with its actions, at the next Tick; a clock set back an hour would hold
// `for` and the heartbeat for an hour and drop an hour of readings as late
// for their window. The engine cannot tell a step from time passing; the
// agent can (it compares the wall clock with the monotonic clock) and calls
// ShiftTime between two readings, which moves the kept times by the step
// and closes the windows the old clock opened. A reading stamped by the old
// clock but processed after ShiftTime is taken as a time of the new one
// (the agent corrects the 1970 ones before the engine sees them).
//
// A transition and the state that records it must be persisted together
// (the agent writes the Output's alerts and MarshalState in one bbolt
// transaction); otherwise a crash between the two repeats or loses one
// transition. Actions are not persisted: an action queued but not run when
// the agent stops is lost, except set_output of alerts still firing, which
// RestoreState queues again.
//
// The engine keeps state for every sensor id it has seen, without bound;
// sources name sensors from configuration. Expressions allocate on each
// evaluation (expr boxes values: about 5 allocations per reading for a
// transform plus a drop_if); rules with scale/offset, deadband, intervals,
// windows and thresholds do not allocate per reading. An alert transition
// allocates its text.
package rules
