package source

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fieldline/fieldline"
)

type cfgA struct{ Name string }
type cfgB struct{ N int }

type named struct {
	Local
	name string
}

func (n named) Name() string { return n.name }
func (named) Read(ctx context.Context, _ func([]fieldline.Reading)) error {
	<-ctx.Done()
	return nil
}

func TestRegistry(t *testing.T) {
	var r Registry
	if err := Add(&r, "a", func(c cfgA) (Source, error) { return named{name: "a/" + c.Name}, nil }); err != nil {
		t.Fatal(err)
	}
	if err := Add(&r, "b", func(c cfgB) (Source, error) { return nil, errors.New("b refuses") }); err != nil {
		t.Fatal(err)
	}
	if err := Add(&r, "a", func(c cfgB) (Source, error) { return nil, nil }); !errors.Is(err, ErrDuplicate) || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("second a: %v, want ErrDuplicate naming it", err)
	}
	if got := r.Names(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("names %v", got)
	}
	src, err := Build(&r, "a", cfgA{Name: "boiler"})
	if err != nil || src.Name() != "a/boiler" {
		t.Fatalf("Build a: %v, %v", src, err)
	}
	if _, err := Build(&r, "b", cfgB{}); err == nil || err.Error() != "b refuses" {
		t.Errorf("a factory's error: %v", err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"unknown name", func() error { _, err := Build(&r, "c", cfgA{}); return err }(), "registered: [a b]"},
		{"wrong config type", func() error { _, err := Build(&r, "a", cfgB{}); return err }(), "it takes source.cfgA"},
	} {
		if !errors.Is(tc.err, ErrUnknownProtocol) || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrUnknownProtocol saying %q", tc.name, tc.err, tc.want)
		}
	}
}
