package execpages

import (
	"reflect"
	"strings"
	"testing"
)

// smapsSample is the shape of /proc/<pid>/smaps (fields cut short): a
// static binary's code and tables, its data, a path with a space, the
// heap, and a file removed while mapped.
const smapsSample = `00400000-00a5c000 r-xp 00000000 fd:00 1234                               /usr/bin/fieldline-agent
Size:               6512 kB
Rss:                6100 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me dw sd
00a5c000-0118a000 r--p 0065c000 fd:00 1234                               /usr/bin/fieldline-agent
Size:               7352 kB
Anonymous:             8 kB
VmFlags: rd mr mw me dw sd
0118a000-011c6000 rw-p 00d8a000 fd:00 1234                               /usr/bin/fieldline-agent
Anonymous:           120 kB
7f0000000000-7f0000001000 r--p 00000000 fd:00 99                         /opt/my dir/fieldline-agent
Anonymous:             0 kB
7f0000400000-7f0004000000 rw-p 00000000 00:00 0
Anonymous:          5120 kB
7f1000000000-7f1000010000 r-xp 00001000 fd:00 77                         /usr/bin/old (deleted)
Anonymous:             0 kB
`

func TestParseSmaps(t *testing.T) {
	cases := []struct {
		name, path string
		want       []Mapping
	}{
		{"binary", "/usr/bin/fieldline-agent", []Mapping{
			{Start: 0x400000, End: 0xa5c000, Perms: "r-xp", Path: "/usr/bin/fieldline-agent"},
			{Start: 0xa5c000, End: 0x118a000, Perms: "r--p", Path: "/usr/bin/fieldline-agent", Anonymous: 8 << 10},
			{Start: 0x118a000, End: 0x11c6000, Perms: "rw-p", Path: "/usr/bin/fieldline-agent", Anonymous: 120 << 10},
		}},
		{"path with a space", "/opt/my dir/fieldline-agent", []Mapping{
			{Start: 0x7f0000000000, End: 0x7f0000001000, Perms: "r--p", Path: "/opt/my dir/fieldline-agent"},
		}},
		{"removed file", "/usr/bin/old (deleted)", []Mapping{
			{Start: 0x7f1000000000, End: 0x7f1000010000, Perms: "r-xp", Path: "/usr/bin/old (deleted)"},
		}},
		{"not mapped", "/usr/bin/other", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSmaps(strings.NewReader(smapsSample), tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseSmapsErrors(t *testing.T) {
	for _, bad := range []string{
		"00400000 r-xp 00000000 fd:00 1234 /bin/x\n",                              // no end address
		"00400000-00300000 r-xp 00000000 fd:00 1234 /bin/x\n",                     // end before start
		"0040000g-00a5c000 r-xp 00000000 fd:00 1234 /bin/x\n",                     // not hex
		"00400000-00a5c000 r-xp\n",                                                // fields missing
		"00400000-00a5c000 r-x 00000000 fd:00 1234 /bin/x\n",                      // perms cut
		"00400000-00a5c000 r-xp 00000000 fd:00 1234 /bin/x\nAnonymous: lots kB\n", // the binary's count
	} {
		if got, err := ParseSmaps(strings.NewReader(bad), "/bin/x"); err == nil {
			t.Errorf("%q: no error, got %+v", bad, got)
		}
	}
}

func TestMappingPerms(t *testing.T) {
	cases := []struct {
		perms          string
		writable, exec bool
	}{
		{"r-xp", false, true},
		{"r--p", false, false},
		{"rw-p", true, false},
		{"rwxp", true, true},
	}
	for _, tc := range cases {
		m := Mapping{Perms: tc.perms}
		if m.Writable() != tc.writable || m.Executable() != tc.exec {
			t.Errorf("%s: writable %t, executable %t; want %t, %t", tc.perms, m.Writable(), m.Executable(), tc.writable, tc.exec)
		}
	}
}

func TestPieces(t *testing.T) {
	const k = 1 << 10
	cases := []struct {
		name       string
		start, end uintptr
		want       [][2]uintptr
	}{
		{"aligned", 0, 64 * k, [][2]uintptr{{16 * k, 32 * k}, {48 * k, 64 * k}}},
		{"starts on an odd piece", 16 * k, 40 * k, [][2]uintptr{{16 * k, 32 * k}}},
		{"unaligned ends", 20 * k, 52 * k, [][2]uintptr{{20 * k, 32 * k}, {48 * k, 52 * k}}},
		{"one even piece", 32 * k, 36 * k, nil},
		{"empty", 16 * k, 16 * k, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := pieces(tc.start, tc.end, 16*k); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("pieces(%#x, %#x) = %#x, want %#x", tc.start, tc.end, got, tc.want)
			}
		})
	}
	// Cutting the pieces again leaves them as they are.
	for _, p := range pieces(0, 256*k, 16*k) {
		if again := pieces(p[0], p[1], 16*k); !reflect.DeepEqual(again, [][2]uintptr{p}) {
			t.Errorf("piece %#x cut again: %#x", p, again)
		}
	}
}
