// Package lograte keeps repeated log lines from flooding a gateway's log:
// a line about one thing (a topic, a sensor, a failing lane, a source that
// cannot connect) is let through at most once per period, and the next line
// let through says how many were held back.
//
// # Basics
//
//	lim := lograte.New(time.Minute, nil) // nil: time.Now
//	if ok, held := lim.Allow(topic); ok {
//		log.Warn("payload dropped", "topic", topic, "suppressed_since_last", held)
//	}
//
// Each key has a golang.org/x/time/rate token bucket of one token refilled
// once per period. What is held back is still counted where it happens (a
// Prometheus counter); the limiter only spares the log.
//
// # Caveats
//
// Memory is bounded: beyond MaxKeys keys, the keys whose period is over are
// forgotten first, then any, so a publisher inventing topics cannot grow
// it. A forgotten key logs at once the next time and its held-back count
// starts over. The limiter is safe for concurrent use.
package lograte
