package bridge

import (
	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline/internal/confkit"
)

// checkServerLimits compares max_batch_bytes with the max_payload of the
// NATS server nc is connected to, each time it connects: a batch larger
// than max_payload is refused by the server at the sender and never
// reaches a bridge, so it is neither rejected with a reason nor
// dead-lettered; the agent sizes its batches by the same max_payload. A
// max_batch_bytes above it is therefore no limit at all: the bridge warns
// and takes the server's max_payload as its limit (rather than refusing to
// start, as the server's limit can change with a reconnection to another
// server of a cluster, and the bridge still works).
func (b *Bridge) checkServerLimits(nc *nats.Conn) {
	mp := nc.MaxPayload()
	if mp <= 0 {
		return // not connected yet: checked at the first connection
	}
	cfg := int64(b.cfg.MaxBatchBytes)
	if cfg > mp {
		b.log.Warn("max_batch_bytes is above the NATS server's max_payload: larger batches cannot reach the bridge; taking max_payload as the limit (lower max_batch_bytes, or raise the server's max_payload)",
			"max_batch_bytes", confkit.ByteSize(cfg).String(), "max_payload", confkit.ByteSize(mp).String(), "server", nc.ConnectedServerName())
		b.setMaxBytes(mp)
		return
	}
	b.setMaxBytes(cfg)
}

func (b *Bridge) setMaxBytes(n int64) {
	b.maxBytes.Store(n)
	b.m.MaxBatchBytes.Set(float64(n))
}
