package tlsconf

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the tests' TLS servers are gone when they end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
