package rules

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Env is what an expression sees. In a transform, value is the raw value;
// in drop_if it is the value after the transform.
type Env struct {
	// Value is the reading's value (raw in a transform, transformed in
	// drop_if).
	Value float64 `expr:"value"`
	// Raw is the reading's value before the transform.
	Raw float64 `expr:"raw"`
	// Prev is the sensor's previous value after the transform, of the last
	// reading that drop_if kept; NaN on the first reading (and after a
	// reading whose transform gave NaN, which is dropped but remembered so
	// that a rate can start from it).
	Prev float64 `expr:"prev"`
	// PrevRaw is the raw value of that same previous reading; NaN on the
	// first reading.
	PrevRaw float64 `expr:"prev_raw"`
	// First is true when there is no previous reading (start, or the
	// sensor's rule changed).
	First bool `expr:"first"`
	// DT is the seconds between the previous reading and this one; 0 on the
	// first reading.
	DT float64 `expr:"dt"`
	// Quality is the reading's quality: 0 good, 1 uncertain, 2 bad.
	Quality int `expr:"quality"`
	// Sensor is the sensor id.
	Sensor string `expr:"sensor"`
	// TS is the reading's time in Unix nanoseconds.
	TS int64 `expr:"ts"`
}

// maxExprNodes bounds an expression's size; a rule expression is a line,
// not a program.
const maxExprNodes = 1000

// maxExprLen bounds an expression's length in bytes.
const maxExprLen = 4096

// exprKind says what an expression must return.
type exprKind int

const (
	exprFloat exprKind = iota // a transform
	exprBool                  // drop_if
)

// compileExpr compiles src against Env. Type errors (an unknown name, a
// string where a number is needed, a result of the wrong type) are reported
// here, never at run time. The error is one line naming the column.
func compileExpr(src string, kind exprKind) (prog *vm.Program, err error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("is empty")
	}
	if len(src) > maxExprLen {
		return nil, fmt.Errorf("is %d bytes long; at most %d", len(src), maxExprLen)
	}
	defer func() {
		// expr is a third-party compiler: a panic inside it on some input
		// must become a problem in the bundle, not a crashed agent.
		if r := recover(); r != nil {
			prog, err = nil, fmt.Errorf("does not compile: %v", r)
		}
	}()
	opts := []expr.Option{expr.Env(&Env{}), expr.MaxNodes(maxExprNodes)}
	switch kind {
	case exprFloat:
		opts = append(opts, expr.AsFloat64())
	case exprBool:
		opts = append(opts, expr.AsBool())
	}
	prog, err = expr.Compile(src, opts...)
	if err != nil {
		return nil, exprError(src, err)
	}
	return prog, nil
}

// exprError turns an expr error into one line: the message and where.
func exprError(src string, err error) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return fmt.Errorf("%s", oneLine(err.Error()))
	}
	msg := oneLine(fe.Message)
	if strings.Contains(src, "\n") {
		return fmt.Errorf("%s (line %d, column %d)", msg, fe.Line, fe.Column+1)
	}
	return fmt.Errorf("%s (column %d)", msg, fe.Column+1)
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// exprRunner evaluates compiled expressions with one reused VM and Env, so
// that evaluation does not allocate a VM per reading.
type exprRunner struct {
	vm  vm.VM
	env Env
}

// float runs a transform expression.
func (r *exprRunner) float(p *vm.Program) (float64, error) {
	out, err := r.vm.Run(p, &r.env)
	if err != nil {
		return math.NaN(), err
	}
	switch v := out.(type) {
	case float64:
		return v, nil
	case int:
		return float64(v), nil
	}
	return math.NaN(), fmt.Errorf("returned %T, want a number", out)
}

// bool runs a drop_if expression.
func (r *exprRunner) bool(p *vm.Program) (bool, error) {
	out, err := r.vm.Run(p, &r.env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("returned %T, want a bool", out)
	}
	return b, nil
}
