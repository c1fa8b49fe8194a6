package main

import (
	"context"
	"io"
	httppprof "net/http/pprof"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/processor"
	"github.com/fieldline/fieldline/internal/confkit"
)

// processFile is the processor's config file: the processor plus the
// daemon's HTTP and log settings.
type processFile struct {
	Processor processor.Config `yaml:"processor"`
	HTTP      httpSection      `yaml:"http"`
	Log       struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
	Memory memoryConfig `yaml:"memory"`
}

// memoryConfig is the Go runtime's memory settings for the process, what
// GOMEMLIMIT and GOGC set, in the config file (where they win over the
// environment).
type memoryConfig struct {
	// Limit is a soft limit of the process's memory (debug.SetMemoryLimit):
	// the garbage collector works harder as the process nears it, and
	// returns freed memory to the system sooner. 0: none.
	Limit confkit.ByteSize `yaml:"limit"`
	// GCPercent is the heap growth between collections (debug.SetGCPercent):
	// with a limit, a higher value spends less CPU on collections while the
	// heap stays under the limit. 0: the runtime's (100, or GOGC).
	GCPercent int `yaml:"gc_percent"`
}

func (m *memoryConfig) check(p *confkit.Problems) {
	if m.Limit != 0 && m.Limit < 16<<20 {
		p.Add("limit", "at least 16MiB (the runtime alone takes a few), got %d bytes", m.Limit)
	}
	if m.GCPercent < 0 {
		p.Add("gc_percent", "must be ≥ 0 (0: the runtime's), got %d", m.GCPercent)
	}
}

// apply sets the runtime's memory settings.
func (m *memoryConfig) apply() {
	if m.Limit > 0 {
		debug.SetMemoryLimit(int64(m.Limit))
	}
	if m.GCPercent > 0 {
		debug.SetGCPercent(m.GCPercent)
	}
}

func (f *processFile) Check(p *confkit.Problems) {
	f.Processor.SetDefaults()
	f.Processor.Check(p.In("processor"))
	f.HTTP.Access.Check(p.In("http"))
	f.Memory.check(p.In("memory"))
	switch f.Log.Level {
	case "", "debug", "info", "warn", "error":
	default:
		p.Add("log.level", "unknown level %q (want debug, info, warn or error)", f.Log.Level)
	}
	switch f.Log.Format {
	case "", "text", "json":
	default:
		p.Add("log.format", "unknown format %q (want text or json)", f.Log.Format)
	}
}

// processOptions are the process command's flags; they override the file.
type processOptions struct {
	config, kafka, http, cpuProfile, memProfile string
}

func newProcessCmd() *cobra.Command {
	var o processOptions
	cmd := &cobra.Command{
		Use:   "process [--config FILE] [--kafka BROKERS] [--http ADDR]",
		Short: "windowed aggregates from fl.readings, exactly once (a Kafka consumer group)",
		Long: `Turns the readings on Kafka (fl.readings) into windowed aggregates per agent
and sensor (fl.aggregates), exactly once: a consumer group with Kafka
transactions and a compacted changelog of its state. Run as many processes as
you like with the same group; Kafka spreads the partitions among them and
moves them when one stops. Readings later than the allowed lateness or too far
in the future go to fl.late, unreadable records to fl.deadletter, each with a
reason. 'process sample-config' prints the config file with its defaults.`,
		Example: `  fieldline-cloud process sample-config > process.yaml
  fieldline-cloud process --config process.yaml
  fieldline-cloud process --kafka 127.0.0.1:9092 --http 127.0.0.1:9273`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProcess(cmd.Context(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "config file (YAML, key 'processor:'; see 'process sample-config')")
	f.StringVar(&o.kafka, "kafka", "", "Kafka bootstrap brokers, comma-separated")
	f.StringVar(&o.http, "http", "", "address for /metrics, /healthz and /readyz (default 127.0.0.1:9273)")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	f.StringVar(&o.memProfile, "memprofile", "", "write a heap profile to this file at exit")
	cmd.AddCommand(&cobra.Command{
		Use:     "sample-config",
		Short:   "print the processor's config file with its defaults",
		Example: `  fieldline-cloud process sample-config > process.yaml`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(processor.SampleConfig)
			return err
		},
	})
	return cmd
}

func runProcess(ctx context.Context, stderr io.Writer, o processOptions) error {
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if o.memProfile != "" {
		defer func() {
			if f, err := os.Create(o.memProfile); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	var file processFile
	if o.config != "" {
		if err := confkit.Load(o.config, &file); err != nil {
			return err
		}
	}
	if o.kafka != "" {
		file.Processor.Kafka.Brokers = strings.Split(o.kafka, ",")
	}
	if o.http != "" {
		file.HTTP.Listen = o.http
	}
	if file.HTTP.Listen == "" {
		file.HTTP.Listen = "127.0.0.1:9273"
	}
	file.Memory.apply()
	log := newLogger(stderr, file.Log.Level, file.Log.Format)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p, err := processor.New(file.Processor, processor.Options{Logger: log, Metrics: processor.NewMetrics(reg)})
	if err != nil {
		return err
	}
	mux := metricsMux(reg, p.Healthy, "healthy")
	mux.HandleFunc("/readyz", probe(p.Ready, "ready"))
	mux.HandleFunc("/debug/pprof/", httppprof.Index)
	mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
	return file.HTTP.serveWhile(ctx, log, "processor", "/metrics /healthz /readyz", mux, p.Run)
}
