package buffer

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
)

// TestRebuildKeepsStateAndBlobs: a rebuild keeps what the buffer stores
// besides readings: the caller's state committed with its readings (the
// rule engine's alert states) and the blobs (the last good rule bundle),
// whether the damage is met while running or found at Open.
func TestRebuildKeepsStateAndBlobs(t *testing.T) {
	for _, running := range []bool{true, false} {
		name := "at open"
		if running {
			name = "while running"
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "buffer.db")
			b := openT(t, path, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for i := range 20 {
				appendT(t, b, fieldline.LaneTelemetry, noisy(300, i*300))
			}
			if _, _, err := b.AppendSyncWithState(ctx, fieldline.LaneAlert, readings(1, 1, 0), []byte(`{"alerts":"firing"}`)); err != nil {
				t.Fatal(err)
			}
			if err := b.PutBlob("rules.last-good", []byte("bundle v7")); err != nil {
				t.Fatal(err)
			}
			if !running {
				closeT(t, b)
			}
			r, err := openRaw(path)
			if err != nil {
				t.Fatal(err)
			}
			m, _ := r.meta()
			r.close()
			damagePage(t, path, int64(m.root), true, 3)
			if !running {
				b = openT(t, path, nil)
			}
			appendT(t, b, fieldline.LaneTelemetry, readings(2, 1, 0)) // meets the damage, rebuilds, commits
			if got := string(b.AppState()); got != `{"alerts":"firing"}` {
				t.Fatalf("state after the rebuild: %q", got)
			}
			if blob, err := b.Blob("rules.last-good"); err != nil || string(blob) != "bundle v7" {
				t.Fatalf("blob after the rebuild: %q %v", blob, err)
			}
			closeT(t, b)
			if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 1 {
				t.Fatalf("damaged files kept: %v", aside)
			}
			b = openT(t, path, nil)
			defer closeT(t, b)
			if got := string(b.AppState()); got != `{"alerts":"firing"}` {
				t.Fatalf("state after reopening: %q", got)
			}
			if s := b.Stats().Lanes[fieldline.LaneTelemetry]; s.DepthReadings != 20*300+2 || s.Lost != 0 {
				t.Fatalf("telemetry after the rebuild: %+v", s)
			}
		})
	}
}
