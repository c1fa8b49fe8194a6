package buffer

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// DropPolicy says which readings go when the buffer is full.
type DropPolicy uint8

const (
	// DropOldest deletes the oldest stored segments, telemetry first, to make
	// room for new readings.
	DropOldest DropPolicy = iota
	// DropNewest keeps what is stored and drops incoming readings.
	DropNewest
)

func (p DropPolicy) String() string {
	switch p {
	case DropOldest:
		return "oldest"
	case DropNewest:
		return "newest"
	}
	return fmt.Sprintf("drop_policy(%d)", uint8(p))
}

// ParseDropPolicy parses "oldest" or "newest" ("" means oldest).
func ParseDropPolicy(s string) (DropPolicy, error) {
	switch s {
	case "", "oldest":
		return DropOldest, nil
	case "newest":
		return DropNewest, nil
	}
	return 0, fmt.Errorf("drop policy %q (want oldest or newest): %w", s, ErrOptions)
}

// CommitInfo describes what one commit stored in one lane: the seqs
// FirstSeq..LastSeq, in one or more segments.
type CommitInfo struct {
	Lane     fieldline.Lane
	FirstSeq uint64
	LastSeq  uint64
	Bytes    int           // stored (encoded) size of the segments
	Latency  time.Duration // of the whole commit, fsync included
}

// Options configure a Buffer. The zero value of a field means its default
// from DefaultOptions, except where noted.
type Options struct {
	// AgentID is written into every stored segment and returned batch.
	AgentID string
	// FlushInterval paces the commits, and is the longest a reading
	// waits in memory before it is committed: commits come on average at
	// most once per 0.9 × FlushInterval, in bursts of at most three (a
	// token bucket, see pace.go), and a reading appended when the bucket
	// holds a token commits at once, others with the next commit.
	// AppendSync and FlushMaxReadings commit at once whatever the pace.
	// 0 commits on every Append call (one fsync per call, or per group of
	// concurrent calls).
	// DefaultOptions: DefaultFlushInterval.
	FlushInterval time.Duration
	// AckFlushInterval is how long acknowledgements (Ack) wait in memory
	// for the next commit that stores readings before they get a commit of
	// their own. Readings that come at least this often take them along,
	// so that a source polled once a second costs one commit a second,
	// not two (issue 19: the ack-only commit was a third of an idle
	// agent's wakeups). The price: after a crash the readings acknowledged
	// in the last AckFlushInterval are sent again, and the cloud drops
	// them as duplicates (its dedup by seq); Close writes them. 0 or less
	// than FlushInterval: FlushInterval. DefaultOptions:
	// DefaultAckFlushInterval.
	AckFlushInterval time.Duration
	// FlushMaxReadings commits early once this many readings wait.
	// Default DefaultFlushMaxReadings.
	FlushMaxReadings int
	// SegmentReadings caps the readings of one stored segment, below
	// FlushMaxReadings: a forwarder that sends batches of at most this
	// many finds them stored whole, and sends the stored bytes as they
	// are (OldestStored). 0: FlushMaxReadings.
	SegmentReadings int
	// MaxPendingReadings bounds the readings waiting in memory when commits
	// fall behind (a slow or failing disk); beyond it, telemetry appends are
	// dropped and counted (alert and event lanes are always queued).
	// Default 8 × FlushMaxReadings. At most 2^21 (two of the wire codec's
	// largest batches, about 128 MiB of readings); the default is clamped
	// to that.
	MaxPendingReadings int
	// MaxBytes caps the file size. 0 means no cap. DefaultOptions:
	// DefaultMaxBytes.
	// Must be 0 or at least 256 KiB.
	MaxBytes int64
	// MaxAge drops readings committed longer ago than this. 0 means none.
	MaxAge time.Duration
	// DropPolicy says what goes when the cap is reached.
	DropPolicy DropPolicy
	// NoSync skips fsync (benchmarks and tests of logic only: a crash can
	// then lose or corrupt anything).
	NoSync bool
	// NoAliases stores segments with every sensor named by its id (wire
	// format version 2). By default they name sensors by the aliases of
	// the file's table (Buffer.Aliases, format version 3), which whoever
	// decodes them elsewhere must have been told (wire.Birth). A file
	// keeps its table when aliases are turned off later, so that what it
	// stored still decodes.
	NoAliases bool
	// WriteDelay keeps the segments of the telemetry and event lanes in
	// memory for up to this long after their commit, readable and
	// acknowledgeable at once, before it writes them to the file; a
	// segment the cloud acknowledges meanwhile is never written, so that a
	// healthy uplink writes next to nothing to the flash (issue 19).
	// Readings appended with AppendSync, the alert lane, Flush and Close
	// are written at once as without it. Held segments are also written,
	// without fsync, to a journal (path+".held", journal.go) before they
	// are handed out: a crash of the process loses none of them, and the
	// next Open stores them and continues every lane where it was. A
	// power cut or reboot can lose the journal's tail: the held readings
	// the cloud had not yet acknowledged are then lost (up to
	// FlushInterval + WriteDelay of them, against FlushInterval without),
	// and the lanes' seqs continue above the seq sidecar's mark, so that
	// no seq that reached the cloud is given again (Open records the
	// jumped range as acknowledged). DefaultOptions has
	// DefaultWriteDelay; 0 writes every commit at once. See hold.go.
	WriteDelay time.Duration
	// OnCommit, if set, is called by the committing goroutine after each
	// commit, once for each lane it stored readings in, in seq order. It
	// must return quickly.
	OnCommit func(CommitInfo)

	Logger  *slog.Logger     // nil: discard
	Metrics *Metrics         // nil: NewMetrics(nil)
	Now     func() time.Time // nil: time.Now; commit times and ages use it

	// maintEvery is maintenanceEvery; tests shorten it.
	maintEvery time.Duration
	// beforePublish, set by tests, runs between a commit's bbolt
	// transaction and its publish.
	beforePublish func()
	// bootID, set by tests, stands for the kernel's boot id (a different
	// one is a power cut to the journal).
	bootID func() ([bootIDLen]byte, bool)
	// journalShrinkAt, set by tests, stands for journalShrinkAt.
	journalShrinkAt int64
}

// The defaults of DefaultOptions; the agent's config takes its own from
// them.
const (
	DefaultFlushInterval    = 100 * time.Millisecond
	DefaultAckFlushInterval = 2 * time.Second
	DefaultFlushMaxReadings = 65536
	DefaultMaxBytes         = 256 << 20
	// DefaultWriteDelay: with a healthy uplink a segment is acknowledged
	// in milliseconds, and one in flight for a second means the uplink is
	// down (issue 19: flash wear).
	DefaultWriteDelay = time.Second
)

// DefaultOptions returns the documented defaults.
func DefaultOptions() *Options {
	return &Options{
		FlushInterval:    DefaultFlushInterval,
		AckFlushInterval: DefaultAckFlushInterval,
		FlushMaxReadings: DefaultFlushMaxReadings,
		MaxBytes:         DefaultMaxBytes,
		WriteDelay:       DefaultWriteDelay,
	}
}

const minMaxBytes = 256 << 10

// maxPendingLimit is the largest MaxPendingReadings: two of the wire
// codec's largest batches, about 128 MiB of readings in memory.
const maxPendingLimit = 2 << 20

// withDefaults returns a copy of o with zero fields filled and checks it.
func (o *Options) withDefaults() (Options, error) {
	c := *o
	if c.FlushMaxReadings == 0 {
		c.FlushMaxReadings = DefaultFlushMaxReadings
	}
	if c.MaxPendingReadings == 0 {
		c.MaxPendingReadings = max(min(8*c.FlushMaxReadings, maxPendingLimit), c.FlushMaxReadings)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.maintEvery == 0 {
		c.maintEvery = maintenanceEvery
	}
	return c, c.validate()
}

// validate lists every problem of the options at once.
func (o *Options) validate() error {
	var errs []error
	if o.FlushInterval < 0 {
		errs = append(errs, fmt.Errorf("flush_interval must be ≥ 0, got %s", o.FlushInterval))
	}
	if o.FlushMaxReadings < 0 || o.FlushMaxReadings > wire.DefaultLimits.MaxReadings {
		errs = append(errs, fmt.Errorf("flush_max_readings must be within 1..%d, got %d", wire.DefaultLimits.MaxReadings, o.FlushMaxReadings))
	}
	if o.SegmentReadings < 0 || o.SegmentReadings > wire.DefaultLimits.MaxReadings {
		errs = append(errs, fmt.Errorf("segment_readings must be 0 (flush_max_readings) or within 1..%d, got %d", wire.DefaultLimits.MaxReadings, o.SegmentReadings))
	}
	if o.MaxPendingReadings < o.FlushMaxReadings || o.MaxPendingReadings > maxPendingLimit {
		errs = append(errs, fmt.Errorf("max_pending_readings (%d) must be within flush_max_readings (%d)..%d", o.MaxPendingReadings, o.FlushMaxReadings, maxPendingLimit))
	}
	if o.MaxBytes != 0 && o.MaxBytes < minMaxBytes {
		errs = append(errs, fmt.Errorf("max_bytes must be 0 (no cap) or ≥ %d, got %d", minMaxBytes, o.MaxBytes))
	}
	if o.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("max_age must be ≥ 0, got %s", o.MaxAge))
	}
	if o.AckFlushInterval < 0 {
		errs = append(errs, fmt.Errorf("ack_flush_interval must be ≥ 0, got %s", o.AckFlushInterval))
	}
	if o.WriteDelay < 0 {
		errs = append(errs, fmt.Errorf("write_delay must be ≥ 0, got %s", o.WriteDelay))
	}
	if o.DropPolicy > DropNewest {
		errs = append(errs, fmt.Errorf("drop_policy %d unknown", o.DropPolicy))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrOptions, errors.Join(errs...))
	}
	return nil
}
