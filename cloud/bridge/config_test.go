package bridge

import (
	"strings"
	"testing"

	"github.com/fieldline/fieldline/internal/confkit"
)

// TestCompressionConfig: every codec name is taken, the default is lz4, and
// an unknown one is refused with the field's path.
func TestCompressionConfig(t *testing.T) {
	for _, tc := range []struct{ in, want, problem string }{
		{"", "lz4", ""},
		{"lz4", "lz4", ""},
		{"zstd", "zstd", ""},
		{"snappy", "snappy", ""},
		{"gzip", "gzip", ""},
		{"none", "none", ""},
		{"brotli", "brotli", `kafka.compression: unknown compression "brotli" (want lz4, zstd, snappy, gzip or none)`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			c := Config{Insecure: true, Kafka: KafkaConfig{Compression: tc.in}}
			c.SetDefaults()
			if c.Kafka.Compression != tc.want {
				t.Fatalf("compression %q after defaults, want %q", c.Kafka.Compression, tc.want)
			}
			var p confkit.Problems
			c.Check(&p)
			err := p.Err("bridge.yaml")
			switch {
			case tc.problem == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
				t.Fatalf("error %v, want %q", err, tc.problem)
			}
		})
	}
}
