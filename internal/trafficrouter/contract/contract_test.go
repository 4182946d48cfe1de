package contract

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/api/v1alpha1"
)

func TestDesired(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d       Desired
		total   int32
		stable  int32
		wantErr bool
	}{
		{Desired{Weight: 20}, 100, 80, false},
		{Desired{Weight: 250, Total: 1000}, 1000, 750, false},
		{Desired{Weight: 20, Additional: []v1alpha1.WeightDestination{{ServiceName: "e", Weight: 10}}}, 100, 70, false},
		{Desired{Weight: 101}, 100, 0, true},
		{Desired{Weight: -1}, 100, 100, true},
		{Desired{Weight: 95, Additional: []v1alpha1.WeightDestination{{ServiceName: "e", Weight: 10}}}, 100, 0, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.d.Weight, tt.d.Total), func(t *testing.T) {
			t.Parallel()
			if tt.d.TotalWeight() != tt.total {
				t.Errorf("total %d", tt.d.TotalWeight())
			}
			if err := tt.d.Check(); (err != nil) != tt.wantErr {
				t.Errorf("Check = %v", err)
			}
			if !tt.wantErr && tt.d.StableWeight() != tt.stable {
				t.Errorf("stable %d, want %d", tt.d.StableWeight(), tt.stable)
			}
		})
	}
}

func TestVerification(t *testing.T) {
	t.Parallel()
	v, n, u := VerifiedBecause("a"), NotVerifiedf("b"), Unknown("c")
	if *v.Bool() != true || *n.Bool() != false || u.Bool() != nil {
		t.Error("Bool")
	}
	for _, tc := range []struct {
		in   []Verification
		want VerificationState
	}{
		{[]Verification{v, u, n}, NotVerified},
		{[]Verification{v, u}, VerificationUnknown},
		{[]Verification{v, v}, Verified},
		{nil, VerificationUnknown},
	} {
		if got := Combine(tc.in...); got.State != tc.want {
			t.Errorf("Combine(%v) = %v", tc.in, got)
		}
	}
	w := Desired{Services: Services{Canary: "c", Stable: "s"}, Weight: 30}.Weights(n)
	if w.Canary.Weight != 30 || w.Stable.Weight != 70 || *w.Verified {
		t.Errorf("Weights %+v", w)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("wrapped: %w", Unsupported("NGINX", "setMirrorRoute"))
	if !errors.Is(err, ErrUnsupported) || err.Error() != "wrapped: NGINX: setMirrorRoute: not supported by this traffic router" {
		t.Errorf("Unsupported: %v", err)
	}
	inv := fmt.Errorf("ctx: %w", Invalidf("Istio", "route %q missing", "r"))
	if ic, ok := AsInvalidConfig(inv); !ok || ic.Message != `route "r" missing` || ic.Router != "Istio" {
		t.Errorf("AsInvalidConfig(%v) = %v, %v", inv, ic, ok)
	}
	if _, ok := AsInvalidConfig(err); ok {
		t.Error("an unsupported error is not an InvalidConfigError")
	}
}
