// Package agent is the Fieldline edge daemon: it wires sensor sources, the
// rule engine, the durable buffer and the uplink into one process, and owns
// their lifecycles.
//
// # Basics
//
// New builds an agent from a checked Config (LoadConfig lists every problem
// of a file): it opens the buffer and compiles the rules, so a broken file
// fails before anything runs. Run then starts, each with an owner that waits
// for it:
//
//   - the source runtime (protocols/source.Run) per source, which
//     connects it again with backoff when it loses its peer and restarts
//     it when it fails as a whole; no protocol retries on its own. The
//     sources are built through a protocol registry (modbus, mqtt, gpio,
//     each registered by name);
//   - the pipeline, one goroutine that flags readings stamped by an unsynced
//     clock, runs the rules and appends telemetry and alert transitions to
//     their buffer lanes;
//   - the forwarder, which keeps exactly one batch in flight and acks the
//     buffer only on the bridge's OK, alternating newest and oldest batches
//     during a backlog (drain: live-first). Data goes one way through it:
//     it asks the buffer for depths (Buffer.Depths) and batches, has its
//     own Fixer (clockFix) correct readings an unsynced clock stamped, and
//     sends; it calls nothing of the agent. A batch that is one whole
//     stored segment goes out as the buffer stored it (StoredQueue;
//     OlderUnsent appended by wire.AppendOlderUnsent), decoded only when
//     the Fixer may change it (RangeFixer) or it must be cut; the others
//     are decoded and encoded again (fieldline_agent_uplink_batches_total
//     {path}). After a failed send it waits a
//     backoff, cut short when its transport is a Waker that says sending
//     may work now (a bridge's hello on fl.bridge.hello, the NATS
//     connection made again);
//   - the heartbeat on fl.status.<id> (a fieldline.AgentStatus, encoded by
//     protocols/wire) and the HTTP endpoint (/metrics, /healthz, /status).
//     /healthz (Health) answers 503, naming the problems, when the
//     buffer's commits fail, the uplink delivered nothing for
//     health.uplink_stall while readings wait, or a source is down past
//     health.source_grace;
//   - with rules.trusted_keys, the rule sync (rulesync*.go): it watches
//     agent.<id>, canary.<fleet> and fleet.<fleet> of the NATS KV bucket
//     fl_rules, verifies each value (rules/signed), refuses what is
//     unsigned, forged, undecodable, signed for another key, not above the
//     revision it reached, or does not compile, swaps the bundle meant for
//     it into the engine between two readings, and keeps the envelope and
//     the revisions in the buffer file (blob rules.sync), so that a restart
//     without a network runs the last good bundle and still refuses
//     replays. docs/architecture.md, "Fleet", has the whole design.
//
// The numbers the status reports are plain atomic counts kept by the part
// that counts them (counts.go); the Prometheus collectors read the same
// counts, so the status never reads a number back out of a metric. A
// protocol's own failures (failed reads, refused connections) are the
// source's count, read through source.FailureCounter.
//
// The clock guard (clock.go) believes the wall clock once it reads past
// agent.clock_floor and the kernel says it is synchronised (clocksync.go,
// adjtimex; agent.clock_sync: floor leaves the kernel out); until then it
// flags the readings the clock stamps. docs/architecture.md, Time, has
// every case.
//
// Shutdown is soft, then hard: sources stop, the pipeline drains into the
// buffer, the buffer commits, the forwarder gets a grace period for its
// batch in flight, bbolt closes.
//
// # Caveats
//
// The agent links no broker and no Kafka client (a test checks the binary's
// dependencies). Whether the buffer's commits fail is known by wrapping the
// buffer's commit counters (commitWatch), until the buffer has a hook for a
// failed commit. It must not know how a protocol talks to its devices: that
// is each protocol package's business; the agent only runs Sources.
package agent
