package buffer

import (
	"testing"

	"github.com/fieldline/fieldline/protocols/wire"
)

func TestSmoke(t *testing.T) {
	p := tempPath(t)
	b := openT(t, p, nil)
	f, l := appendT(t, b, wire.LaneTelemetry, readings(100, 10, 0))
	if f != 1 || l != 100 {
		t.Fatalf("got %d..%d", f, l)
	}
	batch, ok := oldestT(t, b, wire.LaneTelemetry, 30)
	if !ok {
		t.Fatal("no batch")
	}
	checkBatch(t, batch, 1, 0, 30)
	batch, _ = newestT(t, b, wire.LaneTelemetry, 30)
	checkBatch(t, batch, 71, 70, 30)
	ackT(t, b, wire.LaneTelemetry, 1, 30)
	ackT(t, b, wire.LaneTelemetry, 71, 100)
	batch, _ = oldestT(t, b, wire.LaneTelemetry, 1000)
	checkBatch(t, batch, 31, 30, 40)
	t.Logf("%+v", b.Stats())
	closeT(t, b)
	b = openT(t, p, nil)
	batch, _ = oldestT(t, b, wire.LaneTelemetry, 1000)
	checkBatch(t, batch, 31, 30, 40)
	ackT(t, b, wire.LaneTelemetry, 31, 70)
	flushT(t, b)
	t.Logf("%+v", b.Stats())
	closeT(t, b)
}
