// Package window is the processor's windowing engine: it turns readings into
// event-time aggregates per (agent, sensor), deduplicates them by (agent,
// lane, seq), and keeps its state in a form a changelog can carry. It is pure
// and deterministic: no Kafka, no goroutines, no clock of its own (SetNow).
//
// # Basics
//
// Add takes one reading and says what became of it (Counted, Duplicate,
// Late, Future, Unsynced, NoSeq); emitted aggregates collect in Emitted.
// Windows are tumbling or hopping, several specs at once (Config.Windows),
// aligned to the epoch; a window's key is (agent, sensor, start, size).
// Values: count/min/max/sum/mean/first/last over readings of quality good or
// uncertain with a finite value, quality counts over all, and p50/p95/p99
// from a DDSketch (github.com/DataDog/sketches-go, relative accuracy 1% by
// default) per window.
//
// Time is per agent, never per partition. Each agent has two watermarks,
// the highest event time of its live readings (wl) and of its backlog
// readings (wb). A reading is backlog when its seq is below one already
// counted for its lane: the agent sent newer readings first (live-first
// drain). A window is emitted when the watermark that governs it reaches its
// end, and dropped when it reaches its end plus the allowed lateness;
// readings for a dropped window are Late (the caller writes them to fl.late),
// and a reading for an emitted window still open makes the next revision.
//
// Which watermark governs a window: while the agent's backlog is still
// arriving (a lane has a gap in its counted seqs above its floor, see below)
// and the window starts before the live reading that jumped over the gap
// (plus the lateness), the window is "retained": the live watermark emits it
// (live windows do not wait for the backlog), but only the backlog watermark
// drops it, and a window that took backlog readings waits for the backlog
// watermark to emit it (close reason backfill). Otherwise max(wl, wb)
// governs it. So a window at the seam of an outage is emitted at once with
// its live part and again, complete, when the backlog has reached it.
//
// The floor of a lane: the agent marks a batch it sends from the newest end
// of its queue while older readings wait (fl-older-unsent); an unmarked
// batch comes from the oldest end, so every seq below its first was
// delivered or is gone for good (dropped by the agent's buffer caps,
// dead-lettered by the bridge), and the floor moves up to it. Without the
// mark a gap could never be told from a loss.
//
// An agent that sends nothing for IdleClose (engine clock) gets its dirty
// windows emitted by Tick with close reason idle. A sensor that goes quiet
// while its agent keeps sending needs no idle close: the agent's watermark
// closes its windows. With LiveClose, Tick also emits a live agent's
// window once the agent's clock, run on from its latest live reading at
// the engine clock's pace, is LiveClose past the window's end (close
// reason idle): a sensor read once a second into 1 s windows gets its
// window when the second is over, not when its next reading comes.
// NextTick says when Tick next has such work.
//
// Dirty hands out the encoded state (watermarks, dedup sets, open windows
// with their sketches) of every agent changed since the last call, for the
// changelog; Restore puts one back. Restoring mid-stream continues exactly
// as if the engine had never stopped (TestRestoreContinuesExactly).
//
// # Caveats
//
// An agent's state is kept for as long as the engine runs, open windows
// included: dedup must recognise a batch re-sent days later. Readings
// flagged clock-unsynced (and not corrected) are not windowed: their times
// are not the readings' times. Event readings (KindEvent) are deduplicated
// but not windowed. Idle and live close depend on the wall clock, so they
// are the one part a replay may do at another moment. A reading that
// arrives after its window was emitted by live close (its delivery was
// slower than LiveClose allows for) still counts, in the next revision.
package window
