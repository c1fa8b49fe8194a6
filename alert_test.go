package fieldline

import "testing"

// TestAlertFingerprint pins the hash: a fingerprint is stored in the
// processor's state and receivers dedup by it, so it must never change
// between versions.
func TestAlertFingerprint(t *testing.T) {
	a := map[string]string{"alertname": "freezer-warm", "agent": "gw-1", "sensor": "freezer.1.temp"}
	b := map[string]string{"sensor": "freezer.1.temp", "agent": "gw-1", "alertname": "freezer-warm"}
	if AlertFingerprint(a) != AlertFingerprint(b) {
		t.Fatal("the order of a map changed the fingerprint")
	}
	if got, want := FingerprintString(AlertFingerprint(a)), "3d5fc75dc73ad648"; got != want {
		t.Errorf("fingerprint %s, want %s (pinned)", got, want)
	}
	// The separator keeps {"ab": "c"} and {"a": "bc"} apart.
	if AlertFingerprint(map[string]string{"ab": "c"}) == AlertFingerprint(map[string]string{"a": "bc"}) {
		t.Error("label boundaries are not part of the hash")
	}
	if AlertFingerprint(nil) == AlertFingerprint(map[string]string{"": ""}) {
		t.Error("an empty label is not part of the hash")
	}
}

func TestAlertStateNames(t *testing.T) {
	for s := AlertInactive; s <= AlertNoData; s++ {
		if got, ok := ParseAlertState(s.String()); !ok || got != s {
			t.Errorf("%v does not parse back", s)
		}
	}
	for o := OriginCloud; o <= OriginEdge; o++ {
		if got, ok := ParseAlertOrigin(o.String()); !ok || got != o {
			t.Errorf("%v does not parse back", o)
		}
	}
	if !AlertNoData.Active() || !AlertFiring.Active() || AlertPending.Active() || AlertResolved.Active() {
		t.Error("Active: firing and no-data only")
	}
}
