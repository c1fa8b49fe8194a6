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
// line, prefixed by the file name.
//
// Decoding does not stop at the first mistake. Unmarshal walks the YAML
// node tree against the struct: a syntax error, an unknown or repeated key
// and a value of the wrong type each become a problem with its line and
// its path in plain words (`line 12: pumps[0].for: want a duration such as
// 30s, 5m or 1h30m, got "banana"`; `line 4: agent.colour: unknown key`),
// and everything valid is decoded, so that Check still runs and its
// problems come in the same list. What Check says about a field that did
// not decode, or about the mapping right above it, is dropped as a repeat. Decode and Load do all of it;
// Problems.ErrIn adds to each problem of Check the line of its field
// (Locate) and lists them in line order. A config whose defaults must come
// between decoding and checking (the agent's) calls Unmarshal, its
// defaults, Check and ErrIn itself.
//
// Sizes ("64MiB") and durations ("250ms") decode with ByteSize and
// time.Duration.
//
// # Caveats
//
// The package knows no Fieldline type; configs import it, never the reverse.
package confkit
