package tail

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// from is a parsed Options.From.
type from struct {
	kind   fromKind
	offset int64 // fromOffset: the offset; fromLast: how many before the end
	milli  int64 // fromTime: Unix milliseconds
}

type fromKind int

const (
	fromBeginning fromKind = iota
	fromEnd
	fromOffset
	fromLast
	fromTime
)

// parseFrom reads a starting point: "beginning" (or ""), "end", an offset
// ("1200"), a count before the end ("-10"), an RFC 3339 time
// ("2026-11-25T12:00:00Z") or a duration ago ("15m").
func parseFrom(s string, now time.Time) (from, error) {
	switch s {
	case "", "beginning":
		return from{kind: fromBeginning}, nil
	case "end":
		return from{kind: fromEnd}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n != math.MinInt64 {
		if strings.HasPrefix(s, "-") {
			return from{kind: fromLast, offset: -n}, nil
		}
		return from{kind: fromOffset, offset: n}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return from{kind: fromTime, milli: t.UnixMilli()}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return from{kind: fromTime, milli: now.Add(-d).UnixMilli()}, nil
	}
	return from{}, fmt.Errorf("%w: --from %q: want beginning, end, an offset (1200), a count before the end (-10), a time (2026-11-25T12:00:00Z) or a duration ago (15m)", ErrOptions, s)
}

// span is where reading a partition starts and, without Follow, ends
// (the offset after the last record to show).
type span struct{ start, end int64 }

// spans finds, for every partition of topic, where f starts and where the
// topic ends now. The end is the last stable offset: under read_committed
// nothing beyond it can be read yet.
func spans(ctx context.Context, adm *kadm.Client, topic string, f from) (map[int32]span, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = listErr(starts, topic)
	}
	if err != nil {
		return nil, fmt.Errorf("listing the start offsets of %s: %w", topic, err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = listErr(ends, topic)
	}
	if err != nil {
		return nil, fmt.Errorf("listing the end offsets of %s: %w", topic, err)
	}
	var at kadm.ListedOffsets
	if f.kind == fromTime {
		if at, err = adm.ListOffsetsAfterMilli(ctx, f.milli, topic); err == nil {
			err = listErr(at, topic)
		}
		if err != nil {
			return nil, fmt.Errorf("listing the offsets of %s after %s: %w", topic, time.UnixMilli(f.milli).UTC().Format(time.RFC3339), err)
		}
	}
	out := map[int32]span{}
	for p, s := range starts[topic] {
		e, ok := ends.Lookup(topic, p)
		if !ok {
			return nil, fmt.Errorf("listing the end offsets of %s: no partition %d", topic, p)
		}
		sp := span{start: s.Offset, end: e.Offset}
		switch f.kind {
		case fromEnd:
			sp.start = sp.end
		case fromOffset:
			sp.start = f.offset
		case fromLast:
			sp.start = sp.end - f.offset
		case fromTime:
			if a, ok := at.Lookup(topic, p); ok && a.Offset >= 0 {
				sp.start = a.Offset
			} else {
				sp.start = sp.end
			}
		}
		sp.start = min(max(sp.start, s.Offset), sp.end)
		out[p] = sp
	}
	return out, nil
}

// listErr is the error of a listing: the topic is missing, or a partition
// failed.
func listErr(l kadm.ListedOffsets, topic string) error {
	if _, ok := l[topic]; !ok {
		return fmt.Errorf("%w %q", ErrNoTopic, topic)
	}
	if _, ok := l.Lookup(topic, -1); ok {
		return fmt.Errorf("%w %q", ErrNoTopic, topic)
	}
	return l.Error()
}
