package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"

	"github.com/expr-lang/expr/vm"

	"github.com/fieldline/fieldline/internal/confkit"
)

// Program is a compiled, checked bundle (Compile). It is immutable and may
// be shared by several engines.
type Program struct {
	name    string
	version string
	rules   []*rule // in precedence order
	// timed: some rule has work that falls due with time alone (an alert
	// with a `for`, a window to close, a max_interval to keep); Tick does
	// nothing else (see Engine.Timed).
	timed bool
}

// rule is a compiled Rule.
type rule struct {
	index int // position in the bundle
	glob  *glob
	key   string // fingerprint of the pipeline (everything but match and alerts)

	scaled        bool // transform by scale and offset
	scale, offset float64
	transform     *vm.Program
	dropIf        *vm.Program

	deadband     bool
	dbAbs, dbPct float64

	minInterval, maxInterval int64 // ns; 0 = off

	agg      bool
	aggFn    AggFn
	aggWin   int64 // ns
	aggGrace int64 // ns

	alerts []*alert
}

// usesExpr reports whether evaluating the rule fills an Env.
func (r *rule) usesExpr() bool { return r.transform != nil || r.dropIf != nil }

// timed tells whether Engine.tick can ever act on a sensor of r.
func (r *rule) timed() bool {
	if r.agg || r.maxInterval > 0 {
		return true
	}
	for _, a := range r.alerts {
		if a.forNs > 0 {
			return true
		}
	}
	return false
}

// Version is the bundle's version ("" for a nil Program).
func (p *Program) Version() string {
	if p == nil {
		return ""
	}
	return p.version
}

// Name is the bundle's name ("" for a nil Program).
func (p *Program) Name() string {
	if p == nil {
		return ""
	}
	return p.name
}

// RuleFor returns the index in the bundle of the rule that applies to
// sensorID, or -1 when none does (the sensor's readings then pass through
// unchanged). check-rules uses it to explain a bundle.
func (p *Program) RuleFor(sensorID string) int {
	if r := p.resolve(sensorID); r != nil {
		return r.index
	}
	return -1
}

func (p *Program) resolve(sensorID string) *rule {
	if p == nil {
		return nil
	}
	for _, r := range p.rules {
		if r.glob.match(sensorID) {
			return r
		}
	}
	return nil
}

// Compile reads the bundle in data (YAML) and compiles it. It is the one
// way a bundle becomes a Program: the agent (its rules.file and the last
// good bundle it keeps), `check-rules`, `check-config` and the cloud before
// it pushes a bundle all call it, so a bundle the cloud accepts is one the
// agent runs.
//
// It returns the Program, or nil and a *confkit.Error that lists every
// problem found, those of the YAML (syntax, an unknown key, a value of the
// wrong type) and those of the values together, each with its line and,
// when it is about a key or a value, its path in the bundle (`line 8:
// rules[3].deadband.absolute: must be ≥ 0, got -0.5`; `line 5:
// rules[0].deadbnd: unknown key (did you mean deadband?)`). A required key
// left out has no line (`version: is required`). name (a file name, a KV
// key) is the error's File.
func Compile(name string, data []byte) (*Program, error) {
	var p confkit.Problems
	b := new(Bundle)
	confkit.Unmarshal(data, b, &p)
	prog := build(&p, b)
	if err := p.ErrIn(name, data); err != nil {
		return nil, err
	}
	return prog, nil
}

// compile checks and compiles a decoded bundle.
func compile(name string, b *Bundle) (*Program, error) {
	var p confkit.Problems
	prog := build(&p, b)
	if err := p.Err(name); err != nil {
		return nil, err
	}
	return prog, nil
}

// build checks b and compiles it, adding every problem to p (the Program
// is meaningless when there is one).
func build(p *confkit.Problems, b *Bundle) *Program {
	if b == nil {
		p.Add("", "no bundle")
		return nil
	}
	if b.Version == "" {
		p.Add("version", "is required")
	} else if len(b.Version) > 128 {
		p.Add("version", "is %d bytes long; at most 128", len(b.Version))
	}
	if b.Name == "" {
		p.Add("name", "is required")
	} else if len(b.Name) > 128 {
		p.Add("name", "is %d bytes long; at most 128", len(b.Name))
	}
	prog := &Program{name: b.Name, version: b.Version}
	seen := make(map[string]int, len(b.Rules))
	for i := range b.Rules {
		q := p.At("rules", i)
		r := compileRule(q, i, &b.Rules[i])
		if m := b.Rules[i].Match; m != "" {
			if j, dup := seen[m]; dup {
				q.Add("match", "%q is already the selector of rules[%d]", m, j)
			} else {
				seen[m] = i
			}
		}
		if r != nil {
			prog.rules = append(prog.rules, r)
			prog.timed = prog.timed || r.timed()
		}
	}
	sort.SliceStable(prog.rules, func(i, j int) bool { return moreSpecific(prog.rules[i], prog.rules[j]) })
	return prog
}

// fingerprint is a canonical text of v, used to tell whether a rule or an
// alert changed between two bundles.
func fingerprint(v any) string {
	// A hash keeps persisted state small; 128 bits make a collision moot.
	data, err := json.Marshal(v)
	if err != nil {
		// Only non-finite floats fail, and checks reject them first.
		return "unmarshalable"
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}
