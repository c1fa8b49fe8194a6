package natskv

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Open returns bucket cfg.Bucket as it is when it exists (a command run
// with another config must not change a bucket others use; `nats kv edit`
// does that), or makes it with cfg; a bucket made meanwhile by another
// process is taken as it is too.
func Open(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, cfg.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// CheckBucket says what is wrong with a bucket name, or nil: NATS KV
// bucket names are letters, digits, '-' and '_'.
func CheckBucket(name string) error {
	if name == "" {
		return fmt.Errorf("empty bucket name")
	}
	if i := strings.IndexFunc(name, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_')
	}); i >= 0 {
		return fmt.Errorf("bucket %q: character %q is not a letter, digit, '-' or '_'", name, name[i])
	}
	return nil
}
