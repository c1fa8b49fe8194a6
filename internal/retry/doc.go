// Package retry is how Fieldline waits between attempts, everywhere: the
// forwarder resending a batch, the source runtime reconnecting a source, a
// Modbus unit backed off or a request retried, a rule action tried again.
//
// # Basics
//
// A Policy is a growing wait: Min first, then doubling up to Max, and,
// with Jitter, each wait spread at random over its upper half [d/2, d] so
// that gateways that lost the same link do not come back in step. Start
// returns a Backoff (github.com/cenkalti/backoff/v5's ExponentialBackOff
// underneath) whose Next gives the waits in turn and whose Reset starts
// over:
//
//	bo := retry.Policy{Min: time.Second, Max: time.Minute, Jitter: true}.Start()
//	for attempt() != nil {
//		if !retry.Sleep(ctx, bo.Next()) {
//			return ctx.Err()
//		}
//	}
//
// # Caveats
//
// A Backoff is not safe for concurrent use: each loop that retries owns
// its own. The package knows nothing of what is retried; the callers decide
// which errors are worth another attempt and count them.
package retry
