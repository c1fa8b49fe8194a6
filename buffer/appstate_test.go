package buffer

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/fieldline/fieldline"
)

// TestAppStateCommitsWithReadings checks that the caller's state is stored
// with the readings of the same call and survives a reopen.
func TestAppStateCommitsWithReadings(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, &Options{FlushInterval: 0})
	if got := b.AppState(); got != nil {
		t.Fatalf("fresh buffer has state %q", got)
	}
	first, last, err := b.AppendSyncWithState(context.Background(), fieldline.LaneAlert, readings(2, 1, 0), []byte("firing"))
	if err != nil || first != 1 || last != 2 {
		t.Fatalf("append: %d..%d %v", first, last, err)
	}
	// A state with no readings is committed too.
	if _, _, err := b.AppendSyncWithState(context.Background(), fieldline.LaneAlert, nil, []byte("resolved")); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openT(t, path, &Options{FlushInterval: 0})
	defer b.Close()
	if got := b.AppState(); !bytes.Equal(got, []byte("resolved")) {
		t.Fatalf("state after reopen %q, want resolved", got)
	}
	if st := b.Stats(); st.Lanes[fieldline.LaneAlert].NextSeq != 3 {
		t.Fatalf("alert lane next seq %d", st.Lanes[fieldline.LaneAlert].NextSeq)
	}
}

// TestAppStateNotStoredWithoutItsReadings: when the buffer is full
// (drop_policy newest) and refuses the readings of an AppendSyncWithState,
// it must not store the state either: both or neither.
func TestAppStateNotStoredWithoutItsReadings(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, &Options{FlushInterval: 0, MaxBytes: 256 << 10, DropPolicy: DropNewest})
	if _, _, err := b.AppendSyncWithState(t.Context(), fieldline.LaneAlert, readings(1, 1, 0), []byte("pending")); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ { // fill it
		_, _, err := b.AppendSync(t.Context(), fieldline.LaneTelemetry, noisy(500, i*500))
		if errors.Is(err, ErrDropped) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := b.AppendSyncWithState(t.Context(), fieldline.LaneAlert, noisy(2000, 0), []byte("firing"))
	if !errors.Is(err, ErrDropped) {
		t.Fatalf("alert append into a full buffer: %v, want ErrDropped", err)
	}
	closeT(t, b)
	b = openT(t, path, &Options{FlushInterval: 0})
	defer closeT(t, b)
	if got := b.AppState(); !bytes.Equal(got, []byte("pending")) {
		t.Fatalf("state after reopen %q: the refused append's state was stored without its readings", got)
	}
}
