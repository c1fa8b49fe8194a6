package buffer

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/fieldline/fieldline"
)

// TestBlobSurvivesReopen: a blob put is there after a reopen, next to the
// readings, replaced by a later put; a missing name is nil; a closed buffer
// says so.
func TestBlobSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	checkAtEnd(t, path)
	b, err := Open(path, &Options{AgentID: "gw", FlushInterval: 0})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append(fieldline.LaneTelemetry, []fieldline.Reading{{SensorID: "s", TimeNs: 1e18, Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Blob("rules"); err != nil || v != nil {
		t.Fatalf("missing blob: %q, %v", v, err)
	}
	for _, v := range []string{"version: v1", "version: v2"} {
		if err := b.PutBlob("rules", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.PutBlob("rules", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("put on a closed buffer: %v", err)
	}

	b, err = Open(path, &Options{AgentID: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if v, err := b.Blob("rules"); err != nil || !bytes.Equal(v, []byte("version: v2")) {
		t.Fatalf("after reopen: %q, %v", v, err)
	}
	if d := b.Stats().DepthReadings; d != 1 {
		t.Fatalf("depth %d after reopen, want the 1 reading", d)
	}
}
