package bridge

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// TestBridgeTakesTheServersPayloadLimit: a NATS server refuses messages
// over its max_payload before a bridge sees them, so a max_batch_bytes
// above it limits nothing. The bridge says so at start, naming both, and
// takes max_payload as its limit (fieldline_bridge_max_batch_bytes); one
// below it is kept as it is, without a word.
func TestBridgeTakesTheServersPayloadLimit(t *testing.T) {
	const maxPayload = 64 << 10
	for _, tc := range []struct {
		name     string
		maxBytes int64
		want     int64
		warns    bool
	}{
		{"default 1MiB above the server's 64KiB", 0, maxPayload, true},
		{"32KiB below it", 32 << 10, 32 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, err := embedded.StartNATS(embedded.NATSOptions{MaxPayload: maxPayload})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(ns.Stop)
			var logs testkit.SyncBuffer
			e := startBridgeOn(t, ns, func(c *Config) { c.MaxBatchBytes = confkit.ByteSize(tc.maxBytes) },
				Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if got := int64(testutil.ToFloat64(e.m.MaxBatchBytes)); got != tc.want {
				t.Fatalf("fieldline_bridge_max_batch_bytes %d, want %d", got, tc.want)
			}
			warned := strings.Contains(logs.String(), "max_batch_bytes is above the NATS server's max_payload")
			if warned != tc.warns || (warned && !strings.Contains(logs.String(), "max_batch_bytes=1MiB max_payload=64KiB")) {
				t.Fatalf("warned %v, want %v; log:\n%s", warned, tc.warns, logs.String())
			}
			// A batch just under the limit is taken; one over it is
			// rejected by the bridge, with its reason, when it can reach
			// the bridge at all.
			cl := e.client(t, "gw-1")
			under := batchOfSize(t, "gw-1", int(tc.want)-1024)
			if ack, err := cl.Send(context.Background(), under); err != nil || !ack.OK {
				t.Fatalf("a batch of %d bytes: %v %+v", len(under), err, ack)
			}
			over := batchOfSize(t, "gw-1", int(tc.want)+1024)
			ack, err := cl.Send(context.Background(), over)
			switch {
			case int64(len(over)) > maxPayload:
				if !errors.Is(err, uplink.ErrOverMaxPayload) {
					t.Fatalf("a batch over the server's max_payload: %v, want ErrOverMaxPayload", err)
				}
			case ack == nil || ack.Code != uplink.CodeTooLarge:
				t.Fatalf("a batch of %d bytes over max_batch_bytes: %v %+v, want a too-large rejection", len(over), err, ack)
			}
		})
	}
}

// batchOfSize encodes a batch of agent of at least n bytes and less than
// n+1KiB (random values do not compress, so the size grows with the
// number of readings).
func batchOfSize(t *testing.T, agent string, n int) []byte {
	t.Helper()
	now := time.Now()
	of := func(k int) []byte {
		b := &fieldline.Batch{AgentID: agent, FirstSeq: 1}
		for i := range k {
			b.Readings = append(b.Readings, fieldline.Reading{Seq: uint64(i + 1), SensorID: "noise", TimeNs: now.UnixNano(), Value: float64(uint64(i)*0x9e3779b97f4a7c15) / 3})
		}
		return encode(t, b)
	}
	// The size per reading is nearly constant: two estimates, then a few
	// readings at a time.
	k := 1000
	data := of(k)
	for range 2 {
		k = max(1, k*n/len(data))
		data = of(k)
	}
	for len(data) < n {
		k += 16
		data = of(k)
	}
	if len(data) >= n+1024 {
		t.Fatalf("no batch between %d and %d bytes: %d", n, n+1024, len(data))
	}
	return data
}
