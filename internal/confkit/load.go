package confkit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Checker is a config that can list its own problems.
type Checker interface {
	Check(p *Problems)
}

// Load reads file into cfg (a pointer to a struct), rejecting unknown keys,
// then runs cfg's Check when it has one. Every problem found, in decoding or
// checking, is returned together in one *Error.
func Load(file string, cfg any) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	return Decode(file, data, cfg)
}

// Decode is Load for bytes already read; name is used in messages.
func Decode(name string, data []byte, cfg any) error {
	var p Problems
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors {
				p.Add("", "%s", strings.TrimPrefix(msg, "yaml: "))
			}
		} else {
			p.Add("", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return p.Err(name)
	}
	if c, ok := cfg.(Checker); ok {
		c.Check(&p)
	}
	return p.Err(name)
}
