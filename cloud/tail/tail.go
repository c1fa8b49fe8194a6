package tail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options say what Run reads and how it prints it.
type Options struct {
	Brokers []string
	// KafkaOpts are added to the clients' options (TLS, SASL).
	KafkaOpts []kgo.Opt
	Topic     string
	// As decodes Topic as this Fieldline topic ("fl.readings"), for a
	// topic renamed in the bridge's config. Default: by Topic's name.
	As string
	// From is where reading starts in every partition: "beginning" (the
	// default), "end", an offset ("1200"), a count before the end ("-10"),
	// an RFC 3339 time or a duration ago ("15m").
	From string
	// Agent keeps the records of this agent only; Sensor those of the
	// sensors matching this glob (path.Match: * is any run of characters,
	// dots included).
	Agent, Sensor string
	// N stops after N records shown; 0 shows all.
	N int
	// Follow keeps reading new records until ctx ends (or N); without it
	// Run stops at the end the topic had when it started.
	Follow bool
	// JSON prints one JSON object per record instead of a line of text.
	JSON bool
	// Out receives the records.
	Out io.Writer
	// Now is the clock for a From given as a duration ago (default
	// time.Now).
	Now func() time.Time
}

// Run prints the records o selects and returns how many it printed. It
// returns nil when ctx ends (Ctrl-C on --follow).
func Run(ctx context.Context, o Options) (int, error) {
	if len(o.Brokers) == 0 || o.Topic == "" || o.Out == nil {
		return 0, fmt.Errorf("%w: brokers, a topic and an output are required", ErrOptions)
	}
	if o.N < 0 {
		return 0, fmt.Errorf("%w: -n %d: want a count ≥ 0", ErrOptions, o.N)
	}
	if _, err := path.Match(o.Sensor, ""); err != nil {
		return 0, fmt.Errorf("%w: --sensor %q: %v", ErrOptions, o.Sensor, err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	f, err := parseFrom(o.From, o.Now())
	if err != nil {
		return 0, err
	}
	decode, err := decoderFor(o.Topic, o.As)
	if err != nil {
		return 0, err
	}

	adminCl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(o.Brokers...)}, o.KafkaOpts...)...)
	if err != nil {
		return 0, fmt.Errorf("connecting to kafka: %w", err)
	}
	sp, err := spans(ctx, kadm.NewClient(adminCl), o.Topic, f)
	adminCl.Close()
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil
		}
		return 0, err
	}
	// left are the partitions still to read to their end (without Follow).
	left := map[int32]bool{}
	offsets := map[int32]kgo.Offset{}
	for p, s := range sp {
		offsets[p] = kgo.NewOffset().At(s.start)
		if s.start < s.end || o.Follow {
			left[p] = true
		}
	}
	if len(left) == 0 {
		return 0, nil
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(o.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.Topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// The commit and abort markers of transactions come too, so that
		// a partition whose last records are a transaction's is seen to
		// end; they are not shown.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}, o.KafkaOpts...)...)
	if err != nil {
		return 0, fmt.Errorf("connecting to kafka: %w", err)
	}
	defer cl.Close()

	shown := 0
	var line []byte
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return shown, nil
		}
		for _, fe := range fs.Errors() {
			if !errors.Is(fe.Err, context.Canceled) {
				return shown, fmt.Errorf("reading %s partition %d: %w", fe.Topic, fe.Partition, fe.Err)
			}
		}
		var werr error
		fs.EachRecord(func(rec *kgo.Record) {
			if werr != nil || !left[rec.Partition] {
				return
			}
			end := sp[rec.Partition].end
			if !o.Follow && rec.Offset >= end {
				delete(left, rec.Partition)
				return
			}
			if !o.Follow && rec.Offset+1 >= end {
				delete(left, rec.Partition)
			}
			if rec.Attrs.IsControl() {
				return
			}
			e := decode(rec)
			if o.Agent != "" && e.Agent != o.Agent {
				return
			}
			if o.Sensor != "" {
				if ok, _ := path.Match(o.Sensor, e.Sensor); !ok || e.Sensor == "" {
					return
				}
			}
			line = format(line[:0], rec, e, o.JSON)
			if _, werr = o.Out.Write(line); werr != nil {
				return
			}
			if shown++; o.N > 0 && shown >= o.N {
				clear(left)
			}
		})
		if werr != nil {
			return shown, fmt.Errorf("writing a record: %w", werr)
		}
	}
	return shown, nil
}

// format appends the record's line: its position and its entry, as text
// or as one JSON object.
func format(dst []byte, rec *kgo.Record, e Entry, asJSON bool) []byte {
	if !asJSON {
		dst = strconv.AppendInt(dst, int64(rec.Partition), 10)
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, rec.Offset, 10)
		dst = append(dst, ' ')
		dst = append(dst, e.Text...)
		return append(dst, '\n')
	}
	dst = append(dst, `{"partition":`...)
	dst = strconv.AppendInt(dst, int64(rec.Partition), 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, rec.Offset, 10)
	if len(e.JSON) > 0 {
		dst = append(dst, ',')
		dst = append(dst, e.JSON...)
	}
	return append(dst, "}\n"...)
}
