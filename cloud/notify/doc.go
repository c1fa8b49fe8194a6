// Package notify is `fieldline-cloud notify`: it reads the alert
// transitions the processor committed on fl.alerts and tells people, by
// signed webhooks and through Prometheus Alertmanager's v2 API, grouped and
// silenced; and it holds the reads behind `fieldline-cloud alerts list,
// history, silence, unsilence`.
//
// It must not know how alerts are decided (cloud/alerting) nor the
// processor's transactions: it sees only committed events.
//
// # Basics
//
// A separate consumer group on fl.alerts with read_committed, not a
// goroutine in the processor: a transition is notified only once its
// transaction committed (an aborted one never pages anybody), a slow
// webhook never holds up the processor's transactions, and notifiers scale
// and fail over apart from the processors.
//
// Each transition of a notified state (default firing, no-data, resolved)
// joins its group (the values of group_by, default alertname and agent);
// a group is sent group_wait after its first transition, in one
// notification to every target. A webhook gets a JSON body (the events in
// fl.alerts' JSON form, each with its idempotency_key "<fingerprint>-<seq>"),
// X-Fieldline-Signature: sha256=<hex HMAC-SHA256 of the body with the
// target's secret>, X-Fieldline-Idempotency-Key (the SHA-256 of the
// events' keys) and X-Fieldline-Attempt. A 2xx delivers; a 4xx other than
// 408 and 429 refuses for good; anything else is tried again with doubling
// backoff (internal/retry) up to max_attempts, after which the
// notification is written to fl.alerts.deadletter with the target, the
// error and the attempts. Alertmanager gets the firing and no-data alerts
// with startsAt and the resolved ones with endsAt, and every resend the
// active alerts again (it ends an alert not heard of for its
// resolve_timeout); the active set is read from fl.alerts.state at start.
//
// At most one delivery per transition: the group's offsets are committed
// only after every target delivered or dead-lettered all of its records,
// so the committed offset is the durable record of what was delivered. A
// notifier killed between a delivery and that commit sends the same
// transitions again after the restart; receivers dedup by the idempotency
// keys (the events' keys are the same whatever the grouping).
//
// Silences (Silence: label matchers with globs, a start and an end) live
// in the compacted topic fl.alerts.silences, key the silence id, a
// tombstone removing one: they survive restarts and every notifier of the
// group shares them with no store beside Kafka. A transition an active
// silence matches at the moment it is taken is counted and not sent.
//
// # Caveats
//
// Deliveries run one at a time in the consumer's loop: a target that
// fails holds the others for its attempts and backoff. While a group waits
// the rebalance of the consumer group waits too (at most group_wait plus
// the deliveries). A silence that ends does not send what it muted.
package notify
