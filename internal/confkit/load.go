package confkit

import (
	"fmt"
	"os"
	"reflect"
)

// Checker is a config that can list its own problems.
type Checker interface {
	Check(p *Problems)
}

// Load reads file into cfg (a pointer to a struct), rejecting unknown keys,
// then runs cfg's Check when it has one, on what decoded. Every problem
// found, in decoding or checking, is returned together in one *Error.
// A file that sets a Secret must not be readable by group or others: Load
// then fails with ErrReadable, naming the file and its mode.
func Load(file string, cfg any) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	if err := Decode(file, data, cfg); err != nil {
		return err
	}
	if hasSecret(reflect.ValueOf(cfg)) {
		if err := CheckPrivate(file); err != nil {
			return fmt.Errorf("config %w", err)
		}
	}
	return nil
}

// Decode is Load for bytes already read; name is used in messages. The
// decoding is Unmarshal's: every problem of the YAML (syntax, unknown keys,
// wrong types) and every one Check finds in what did decode, each with its
// line and field path, in one *Error.
func Decode(name string, data []byte, cfg any) error {
	var p Problems
	Unmarshal(data, cfg, &p)
	if c, ok := cfg.(Checker); ok {
		c.Check(&p)
	}
	return p.ErrIn(name, data)
}
