// Package processor is `fieldline-cloud process`: a Kafka consumer group that
// turns the readings on fl.readings into windowed aggregates on
// fl.aggregates, exactly once. Scaling out is starting more processes: Kafka
// moves partitions between them; there is no other cluster protocol.
//
// # Basics
//
// Each owned partition of fl.readings has its own window.Engine (agents map
// to partitions by key, so an agent's state lives in one engine). The loop
// polls records, processes them, and writes in one Kafka transaction
// (franz-go's GroupTransactSession): the aggregates the engines emitted,
// the readings too late or too far in the future (copied to fl.late with
// fl-reason), the records that cannot be read (copied to fl.deadletter:
// unknown fl-schema, undecodable, no seq), the new state of every agent
// that changed (to partition p of the compacted changelog for input
// partition p, key agent id), and the consumer offsets. A transaction
// collects commit_interval of records, or less when a partition read to its
// end has aggregates or alert events to publish (a backlog keeps
// transactions large, live data does not wait); aggregates become visible
// to read_committed consumers when theirs commits. With nothing to read the
// loop still turns when an engine's idle or live close is due
// (window.NextTick), idle_tick at the latest.
//
// Takeover: when the group gives this processor a partition, the loop first
// waits until the group's committed offset for it is stable (no transaction
// of the previous owner pending: KIP-447's RequireStable, which also covers
// a previous owner killed mid-transaction, until its transaction times out),
// then reads the changelog partition up to its last stable offset and
// restores every agent from its latest state, before processing any record
// of the partition. The state is therefore exactly the one committed with
// the offset the group resumes from. When a transaction aborts (the group
// rebalanced during it), the client rewinds to the committed offsets and
// the loop restores every owned partition again.
//
// Alerts (alerts.rules set): each owned partition also has an
// alerting.Engine, fed every decoded record (its Kafka timestamp as the
// arrival) and each window's first emission, ticked on the clock only when
// the partition is read to its end. Its events go to fl.alerts (key agent,
// header fl-idempotency-key) and fl.alerts.state (compacted, key the
// fingerprint), and each changed agent's alert state to the changelog
// under key alert/<agent>, all in the same transaction (alerts.go).
//
// Metrics count only committed work. /readyz is true once the processor
// is in its group and every partition it owns is restored; /healthz while
// Run runs and its loop turns.
//
// # Caveats
//
// Idle close reads the wall clock, and only for partitions read to their
// end: a replay after a takeover may emit an idle window at another moment,
// never twice in the same committed history. The changelog is only ever
// read by processors of the same window config; windows of a size removed
// from the config are dropped on restore. The processor needs a Kafka with
// transactions (2.5+ for KIP-447); kfake has them.
package processor
