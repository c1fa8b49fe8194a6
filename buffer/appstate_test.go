package buffer

import (
	"bytes"
	"context"
	"testing"

	"github.com/fieldline/fieldline/protocols/wire"
)

// TestAppStateCommitsWithReadings checks that the caller's state is stored
// with the readings of the same call and survives a reopen.
func TestAppStateCommitsWithReadings(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, &Options{FlushInterval: 0})
	if got := b.AppState(); got != nil {
		t.Fatalf("fresh buffer has state %q", got)
	}
	first, last, err := b.AppendSyncWithState(context.Background(), wire.LaneAlert, readings(2, 1, 0), []byte("firing"))
	if err != nil || first != 1 || last != 2 {
		t.Fatalf("append: %d..%d %v", first, last, err)
	}
	// A state with no readings is committed too.
	if _, _, err := b.AppendSyncWithState(context.Background(), wire.LaneAlert, nil, []byte("resolved")); err != nil {
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
	if st := b.Stats(); st.Lanes[wire.LaneAlert].NextSeq != 3 {
		t.Fatalf("alert lane next seq %d", st.Lanes[wire.LaneAlert].NextSeq)
	}
}
