package uplink

import (
	"errors"
	"net/url"
	"strings"
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

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                "nats://127.0.0.1:4222",
		"nats://gw:s3cret@a:4222,tls://b:4222": "nats://gw:xxxxx@a:4222,tls://b:4222",
		"nats://t0ken@a:4222":                  "nats://xxxxx@a:4222",
		"nats://a:1, nats://u:p@b:2":           "nats://a:1,nats://u:xxxxx@b:2",
		"nats://u:p%zz@a:1":                    "(an unparsable URL with credentials)",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("nats://gw:s3cret@a:4222,tls://b:4222")
	f.Add("nats://t0ken@a:1")
	f.Add("%zz@")
	f.Fuzz(func(t *testing.T, urls string) {
		out := Redact(urls)
		for _, p := range strings.Split(urls, ",") {
			u, err := url.Parse(strings.TrimSpace(p))
			if err != nil || u.User == nil {
				continue
			}
			if pw, ok := u.User.Password(); ok && len(pw) > 3 && pw != "xxxxx" && strings.Contains(out, ":"+u.User.String()[len(u.User.Username())+1:]+"@") {
				t.Fatalf("Redact(%q) = %q keeps the password", urls, out)
			}
		}
	})
}
