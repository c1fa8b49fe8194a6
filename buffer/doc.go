// Package buffer is the agent's durable store-and-forward queue: readings
// from the sources are appended, committed to a bbolt file in compressed
// segments, read back in contiguous seq ranges by the forwarder and deleted
// once the cloud has acknowledged them. It knows nothing of sensors or
// networks: it stores fieldline.Readings and hands out fieldline.Batches.
//
// # Basics
//
// Open a file with Open(path, opts). Append copies readings into the lane's
// pending segment; a committer goroutine writes what waits in one
// transaction, each lane's readings as segments (wire.Encode of a
// fieldline.Batch, key = big-endian first seq, one bbolt bucket per lane, plus a
// 20-byte index entry per segment) of at most FlushMaxReadings readings and
// within wire.DefaultLimits, so that every stored segment decodes again,
// at most one commit per FlushInterval (100ms by default) on average, at
// once when the pace allows (a token bucket, pace.go: a source appending
// once per interval gets its commit right after its append) and never
// later than FlushInterval after an append, or as soon as
// FlushMaxReadings wait: group commit, one fsync for many readings. With FlushInterval 0 every
// Append call returns only after its readings are durable; AppendSync does
// that at any interval and returns the seq range the readings got.
//
// With Options.WriteDelay, a commit's telemetry and event segments are
// held in memory (hold.go) instead of written: readable and ackable at
// once, written WriteDelay later unless the cloud acknowledged them whole
// meanwhile, in which case they are never written. AppendSync, the alert
// lane, Flush and Close write at once as without it. See the Caveats.
//
// Segments name their sensors by alias (wire format version 3) from the
// file's alias table (aliases.go, Buffer.Aliases): it is written, twice,
// with the first segment that needs an alias it gained, kept with the file
// and recovered by a rebuild like the lane states; Options.NoAliases
// stores segments by id. Whoever decodes stored bytes elsewhere (the
// bridge) must have been sent the table first (wire.Birth): the forwarder
// does that.
//
// Seqs are per lane, start at 1, are assigned at commit in append order and
// persisted in the same transaction as the segment, so they strictly
// increase across restarts. Lanes drain by priority: alerts, then events,
// then telemetry (the forwarder asks lane by lane; the buffer drops
// telemetry first when full).
//
// Oldest and Newest return the oldest unacked, or the newest, contiguous
// committed range of a lane (at most max readings, stopping at an acked
// range), so that a forwarder can interleave backlog and live data.
// OldestStored and NewestStored hand the same ranges out as a stored
// segment's bytes, to be sent as they are, where the range is exactly one
// whole segment (see their docs for the cases where a range is cut at a
// segment's end for that, and those that stay decoded: partly acked,
// several segments, over the batch size); the segment's header is checked
// (zstd's checksum, lane, seqs, agent) first, so damage still goes the
// decoding path below. SegmentReadings caps a segment at a batch's size so
// that a large commit is stored as whole batches. Ack
// marks a range delivered; acked ranges inside a segment are kept in an
// interval set per lane (persisted with the next commit of readings, or
// after Options.AckFlushInterval without one) and a segment is deleted
// once wholly acked.
//
// MaxBytes caps the file: before each commit the buffer drops the oldest
// segments (telemetry, then events, then alerts) until the new ones fit in
// its budget, or with DropNewest refuses the new readings. A file found
// larger than MaxBytes at Open (the cap was lowered) is trimmed so and
// compacted (bbolt's Compact) into a file under the cap. MaxAge drops
// segments committed longer ago. Every reading dropped or expired is
// counted in Stats and the metrics; so is every reading lost to a damaged
// file (see Caveats), with its seq ranges. Stats, Inspect, Check, Dump and
// Compact report on a running buffer or on a stopped agent's file (Dump
// writes each reading as the JSON record of fl.readings); Depths is the
// depth per lane alone, from memory, for a forwarder that asks before
// every batch.
//
// # Caveats
//
// Power loss: a reading is durable when its commit's fsync has returned; a
// crash or power cut loses at most the readings still waiting (up to
// FlushInterval of them, bounded by MaxPendingReadings; with WriteDelay,
// also the held readings the cloud had not acknowledged, and the lanes'
// seqs jump to the sidecar's mark at the next Open, so that no seq the
// cloud may have got is given again). With FlushInterval 0
// nothing whose Append returned is lost. The crash tests prove this for a
// killed process (SIGKILL); against power loss the guarantee rests on the
// storage honouring fsync, which cheap SD cards do not always do. Acks are
// written with the next commit: a crash can forget the acks of the last
// FlushInterval, and those ranges are sent again (the cloud drops them as
// duplicates by seq).
//
// The cap: the file never grows past MaxBytes: bbolt's MaxSize refuses to
// grow it, and when that happens the buffer lowers its budget, commits the
// drops on their own (freed pages are reusable only by a later transaction)
// and retries; once the file has room again (free pages, or growth left
// under the cap) the budget is raised back step by step. Segments are budgeted with a cost model (payload plus bbolt
// element headers and leaf fill), and room is reserved for the pages a
// commit rewrites, the freelist, the pages freed by the previous commit and
// one growth step of the file; small caps therefore hold noticeably less
// data than MaxBytes (about a third of a 1 MiB cap, over 90% of the default
// 256 MiB). Dropped readings are counted when they were unacked at the
// moment of the drop. The buffer does not track which ranges Oldest and
// Newest handed out: a reading dropped by the cap (or expired by MaxAge)
// while its batch is in flight is counted as dropped (or expired) even if
// that batch is then delivered and acked. So dropped and expired may
// include readings the cloud got, at most those in flight at the moment of
// the drop; the late ack is not an error and is not counted as acked, so
// no reading is counted twice. MaxPendingReadings bounds memory when commits fall
// behind; appends beyond it are dropped, counted, and answered with
// ErrDropped: the buffer never blocks a source and never grows without
// bound.
//
// The seq sidecar: a fresh buffer must not reuse seqs the cloud has seen,
// or the cloud would drop new readings as duplicates. Beside the file the
// buffer keeps <path>.seq, a small text file with a per-lane mark above
// every seq that may have been used. It is rewritten atomically (temp file,
// fsync, rename, directory fsync) only when a commit would pass the mark,
// which is then raised by 2^20, so it costs one small write per million
// readings. When the bbolt file is corrupt (bbolt rejects it, it is shorter
// than its meta page says, or its buffer state does not decode) it is
// renamed to <path>.corrupt-<UTC time> with an error log line, and the new
// buffer starts each lane at the larger of the sidecar's mark and the
// current time in unix microseconds (the time floor covers a lost or
// damaged sidecar as long as the clock is right and a lane has averaged
// fewer than a million readings per second). A brand-new buffer (no file,
// no sidecar) starts at 1. Losing both the file and the sidecar with an
// unset clock is the one case where seqs can repeat.
//
// A damaged file (a page overwritten with garbage or zeros: a bad sector,
// a torn write, a bug elsewhere) is rebuilt, whatever the page. bbolt
// trusts its pages: it panics on one that does not name itself, faults on
// offsets that run out of the file, and falls back silently to the older
// meta page when the newer is damaged. Open therefore checks the pages
// bbolt trusts blindly before it writes (both meta pages, the freelist),
// the root and the state, and at most 16 MiB of the segment and index
// trees, the newest first (checkpages.go); every write transaction checks
// the meta pages and the freelist's header first; and every bbolt panic or
// fault becomes a damage error. Damage found at Open, or met by a commit
// or a read while the buffer runs, makes the buffer rebuild the file:
// what can still be read of it, found by a page walk of its own that
// never follows a page out of the file or round a cycle (bbolt's tree as
// far as its pages are sound, then every other sound leaf page: the
// leaves a damaged branch hides, older copies in freed pages, the last
// commit when its meta page is the damaged one), goes into a fresh file
// with its seqs, and the damaged file is renamed to path+".corrupt-<UTC
// time>". Every committed, unacked reading that could not be read is
// counted lost, per lane with its seq ranges (Stats, the metric
// fieldline_buffer_lost_readings_total, fieldline_buffer_corrupt_total
// {what="file"}), in one error log line. The lanes' committed ranges come
// from the running buffer, or at Open from the lane states found: the
// state is written twice by every commit, inline in bbolt's root page and
// in a padded copy in a page of its own (one page more per commit), so
// that one damaged page leaves the acked ranges and counts known. New
// seqs continue at the next seq when it is known exactly, and otherwise
// above the sidecar's mark and the clock floor. While the committer
// rebuilds, appends and acks go on in memory, readers wait for it, and the
// commit that met the damage is retried on the new file. A rebuild copies
// a segment it keeps whole as stored; one cut by acked or lost seqs is
// decoded and encoded again.
//
// Damage bbolt does not see, inside the values: a segment that does not
// decode is logged, counted lost (fieldline_buffer_corrupt_total
// {what="segment"}), skipped and deleted. So is an index entry whose key
// or value does not decode, and any seqs the lane state says are stored
// but no index entry covers ({what="index"}): the seqs between the
// decodable entries around it are counted lost once, the entry and its
// segment are deleted by the next commit, and neither reads nor commits
// fail on it.
//
// Sending a batch before its commit lands (issue 19) is not done: after a
// SIGKILL, Open continues at the committed next seq, so seqs sent but not
// committed would be given again; docs/architecture.md says what it would
// need.
//
// Write amplification: each commit rewrites bbolt's last leaf of the
// segment and index buckets, the root (with the lane state), the state's
// copy, the freelist and a meta page (a few 4 KiB pages), so many readings
// per commit are cheap on an SD card and one reading per commit is not;
// bbolt never splits a leaf of four or fewer large values, so large
// segments are rewritten two to four times on average as later ones are
// appended. Measured at 10,000 readings/s (fieldline-cloud bench --mode
// latency): about 330 bytes written per reading for 6.5 stored at the
// default interval, 21 for 0.9 at 2 s (docs/benchmarks.md).
package buffer
