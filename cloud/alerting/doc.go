// Package alerting is the cloud's alert rules and their state machine: the
// rules file (YAML, checked like the edge's rule bundles, every problem
// listed with its line), and an Engine that the processor runs beside each
// partition's window engine, turning readings, aggregates and the agents'
// own alert transitions into AlertEvents, one per transition. It is pure
// and deterministic: no Kafka, no goroutines, no clock of its own.
//
// It owns what an alert is and when it changes. It must not know Kafka,
// the processor's transactions or notifications: the processor feeds it
// and writes its events and state (cloud/processor), the notifier tells
// people (cloud/notify).
//
// # Basics
//
// A rule is a threshold (condition "FN OP NUMBER" on each window of one
// of the processor's sizes, or on each raw reading) or an absence
// (offline: the agent, or a sensor, sent nothing for that long). An alert
// is one rule on one agent (and sensor), named by its labels: the rule's,
// templated, plus alertname, agent, sensor, severity and origin; its
// fingerprint is their hash (fieldline.AlertFingerprint), and Seq numbers
// its transitions from 1.
//
//	inactive/resolved --condition--> pending (firing at once when for is 0)
//	pending --clear--> inactive;  pending --not clear for `for`--> firing
//	firing --clear for keep_firing_for--> resolved
//	firing --no value for no_data--> no-data --a value--> firing or resolved
//	absence: inactive/resolved --silent for offline--> firing --data--> resolved
//
// Clear is the rule's clear condition (hysteresis) or, without one, the
// condition not holding.
//
// A window rule whose condition more readings cannot make false (max > x,
// max >= x, min < x, min <= x, count > x, count >= x) and whose clear
// condition, if any, more readings cannot make true (max < x, min > x,
// count < x and their <=, >=) fires early: Input.Windows carries the open
// windows a live reading joined, as they stand, and the rule takes each one
// the reading decided as the sample its aggregate will be (at the window's
// end, value the window so far), in order, stopping at the first it does
// not decide. The aggregate then re-evaluates that sample: same outcome,
// no second transition, the whole window's value kept. Other conditions,
// and every resolve, wait for the aggregate. Edge alerts (readings of an agent's alert lane,
// their Text the JSON of rules.AlertEvent) enter the same machine with
// origin edge: the agent decided, the engine keeps the state, numbers the
// transitions and names them like its own, so one list shows both.
//
// Two clocks. Thresholds, `for` and keep_firing_for run on event time: the
// time of the reading, or the end of the window. A sample at or before the
// last one its alert took is history and not evaluated: a backlog the
// agent drains after an outage, a window's later revision. So a live-first
// drain (the agents' default) cannot flap an alert with old values; what
// happened during the outage is in the aggregates (backfill), and what the
// agent's own rules saw offline arrives on its alert lane. Raw-reading
// alerts also move on their agent's event time (Settle), the last value
// taken to hold, so a sensor behind an edge deadband still fires after
// `for`. Absence and no-data run on arrival: a record's Kafka timestamp
// (the bridge's clock when it wrote it) and the processor's clock (Tick),
// never on event time: a backlog's old timestamps would make an agent that
// is sending look silent, and a silent agent makes no event time at all.
// The first record back resolves an absence, whatever its event time, and
// the drain that follows keeps it resolved. Missing data never resolves a
// threshold alert: firing goes to no-data, and the next value decides.
//
// Dirty hands out each changed agent's state for the processor's
// changelog, written in the same transaction as the events, and Restore
// puts it back, so a takeover continues exactly (TestRestoreContinues): no
// transition twice, none lost. A restored alert whose rule is gone or
// names it with other labels ends with annotation reason rule_changed.
//
// # Caveats
//
// The processor ticks only partitions read to their end: an agent whose
// records wait unread is not silent. Arrival times are the bridge's clock;
// an absence fires on the processor's, so those two clocks must agree to
// within a fraction of the shortest offline. An agent never heard of has
// no absence alert (there is no registry of the agents that should exist
// yet). A window rule evaluates each window once, at its first emission
// (or, firing early, on the reading that decided it, the emission then
// re-evaluating it); an agent draining oldest-first (not the default)
// replays the outage's values in order, and its alerts with them.
package alerting
