package agent

import (
	"time"

	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// Defaults is the one place the defaults of the agent's own sections are
// written: SetDefaults fills every zero field from it, agent/sample.yaml
// shows the same values (a test fails when they differ) and the Go
// comments of Config point here. The buffer's and the NATS connection's
// numbers are taken from their packages (buffer.DefaultOptions,
// uplink.NATSConfig.SetDefaults), so they too are written once. The
// protocol sections (sources) have their own SetDefaults and sample.yaml
// each.
//
// Buffer.Path is left empty: its default depends on data_dir
// (<data_dir>/buffer.db), and SetDefaults derives it.
func Defaults() Config {
	bo := buffer.DefaultOptions()
	flush, ackFlush, writeDelay := bo.FlushInterval, bo.AckFlushInterval, bo.WriteDelay
	aliases := !bo.NoAliases
	var nats uplink.NATSConfig
	nats.SetDefaults()
	trim := true
	return Config{
		Agent: AgentSection{
			DataDir:    "/var/lib/fieldline", // the systemd unit's StateDirectory
			ClockFloor: DefaultClockFloor,    // raised to the build day by the binary
			ClockSync:  ClockSyncKernel,
			// Resident memory before start-up speed (docs/benchmarks.md).
			TrimBinaryPages: &trim,
			MaxProcs:        1,
		},
		Buffer: BufferSection{
			FlushInterval:    &flush,
			AckFlushInterval: &ackFlush,
			WriteDelay:       &writeDelay,
			FlushMaxReadings: bo.FlushMaxReadings,
			MaxBytes:         confkit.ByteSize(bo.MaxBytes),
			MaxAge:           0, // keep until sent or pushed out by max_bytes
			DropPolicy:       buffer.DropOldest.String(),
		},
		Uplink: UplinkSection{
			NATS:              nats,
			Drain:             DrainLiveFirst,
			MaxBatchReadings:  5000,
			LiveBatchReadings: 1000,
			MaxBatchBytes:     1 << 20,
			Aliases:           &aliases,
			RetryMin:          100 * time.Millisecond,
			RetryMax:          30 * time.Second,
			StatusInterval:    10 * time.Second,
		},
		Rules: RulesSection{Bucket: "fl_rules"},
		HTTP:  HTTPSection{Listen: "127.0.0.1:9271"},
		Health: HealthSection{
			// Well past a failed send's longest wait (retry_max) and a
			// round trip (request_timeout), so that a slow but working
			// uplink is not unhealthy.
			UplinkStall: 5 * time.Minute,
			// Past a few of a source's reconnect attempts (its backoff
			// reaches 1 min by default): a device that reboots is not
			// unhealthy, one that stays away is.
			SourceGrace: 2 * time.Minute,
		},
		Log: LogSection{Level: "info", Format: "text"},
	}
}

// orDefault sets *v to d when *v is the zero value.
func orDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}
