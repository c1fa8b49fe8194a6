// Package confkit loads typed YAML configuration strictly and collects every
// problem in it at once, so that a daemon can list them all at start.
//
// # Basics
//
// Load decodes a file into a struct with unknown keys rejected. A config type
// then checks itself with a Problems value, naming each field by its path:
//
//	func (c *Config) Check(p *confkit.Problems) {
//		if c.Interval <= 0 {
//			p.Add("interval", "must be > 0, got %s", c.Interval)
//		}
//		c.Device.Check(p.In("device"))
//	}
//
// Problems.Err returns nil or an error that lists every problem, one per
// line, prefixed by the file name. Locate adds to each problem the line of
// its field in the YAML document (rules.Compile uses it for bundles).
//
// Sizes ("64MiB") and durations ("250ms") decode with ByteSize and
// time.Duration.
//
// # Caveats
//
// The package knows no Fieldline type; configs import it, never the reverse.
package confkit
