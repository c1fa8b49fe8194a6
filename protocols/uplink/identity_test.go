package uplink

import (
	"errors"
	"testing"
)

func TestParseSender(t *testing.T) {
	s, err := ParseSender(`{"acc":"AAGENTS","rtt":1000,"user":"UGW1","name_tag":"gw-1","kind":"Client"}`)
	if err != nil {
		t.Fatal(err)
	}
	if s != (Sender{Account: "AAGENTS", User: "UGW1", Name: "gw-1"}) {
		t.Fatalf("sender %+v", s)
	}
	for _, bad := range []string{"", "{", `{"acc":"A"}`, `{"name_tag":"gw-1"}`, `[]`} {
		if _, err := ParseSender(bad); !errors.Is(err, ErrNoIdentity) {
			t.Errorf("ParseSender(%q) = %v, want ErrNoIdentity", bad, err)
		}
	}
}

func FuzzParseSender(f *testing.F) {
	f.Add(`{"acc":"AAGENTS","user":"UGW1","name_tag":"gw-1"}`)
	f.Add(`{"acc":"","name_tag":"x"}`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, v string) {
		s, err := ParseSender(v)
		switch {
		case err == nil:
			if s.Account == "" || s.Name == "" {
				t.Fatalf("accepted %q without account or name: %+v", v, s)
			}
		case !errors.Is(err, ErrNoIdentity):
			t.Fatalf("error %v wraps no ErrNoIdentity", err)
		}
	})
}
