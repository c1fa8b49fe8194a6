package testkit

import (
	"fmt"
	"os"
	"testing"
)

// RequireToolsEnv, when set to 1, turns a missing tool from a skip into a
// failure. .ci/run sets it: CI installs every tool the tests use, so a skip
// there would hide a missing install step.
const RequireToolsEnv = "FL_REQUIRE_TOOLS"

// Missing is for a test that cannot run because a tool it needs (socat,
// mbpoll, Mosquitto, pymodbus) is not installed: it skips with the message,
// or fails with it under FL_REQUIRE_TOOLS=1.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Skip(unlessRequired(t, format, args...))
}

// Optional is for a part of a test that needs a tool which is not
// installed while the rest can still run: it logs the message, or fails
// with it under FL_REQUIRE_TOOLS=1.
func Optional(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Log(unlessRequired(t, format, args...))
}

// unlessRequired returns the message, after failing the test with it when
// every tool is required.
func unlessRequired(t testing.TB, format string, args ...any) string {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(RequireToolsEnv) == "1" {
		t.Fatalf("%s (%s=1: every tool must be installed)", msg, RequireToolsEnv)
	}
	return msg
}
