package plan

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestFenceposts(t *testing.T) {
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	num := func(i int) *intstr.IntOrString { v := intstr.FromInt32(int32(i)); return &v }
	for _, tc := range []struct {
		replicas               int32
		surge, unavail         *intstr.IntOrString
		wantSurge, wantUnavail int32
	}{
		{1, nil, nil, 1, 0},
		{3, nil, nil, 1, 0},
		{4, nil, nil, 1, 1},
		{10, nil, nil, 3, 2},
		{3, num(0), nil, 0, 1}, // both 0 → unavailable forced to 1
		{3, num(0), num(0), 0, 1},
		{10, pct("50%"), pct("100%"), 5, 10},
		{2, nil, num(5), 1, 2}, // capped at replicas
	} {
		s, u := Fenceposts(tc.replicas, tc.surge, tc.unavail)
		if s != tc.wantSurge || u != tc.wantUnavail {
			t.Errorf("Fenceposts(%d, %v, %v) = %d/%d, want %d/%d", tc.replicas, tc.surge, tc.unavail, s, u, tc.wantSurge, tc.wantUnavail)
		}
	}
}

// The tables of argo-compat.md §3.3 (canary/stable), re-derived from Argo's rounding; the two
// cells marked ★ are where Argo runs 0 canary pods and sluice does not.
func TestBasicCanaryCountsMatchesArgoTables(t *testing.T) {
	weights := []int32{1, 5, 10, 20, 25, 33, 50, 75, 90, 99}
	defaults := map[int32]string{
		1:  "1/1 1/1 1/1 1/1 1/1 1/1 1/1 1/1 1/1 1/1",
		2:  "1/2 1/2 1/2 1/2 1/2 1/2 1/1 2/1 2/1 2/1",
		3:  "1/3 1/3 1/3 1/3 1/3 1/2 2/2 3/1 3/1 3/1",
		4:  "1/4 1/4 1/4 1/4 1/3 2/3 2/2 3/1 4/1 4/1",
		5:  "1/5 1/5 1/5 1/4 1/4 2/4 3/3 4/1 5/1 5/1",
		10: "1/10 1/10 1/9 2/8 3/8 3/7 5/5 8/3 9/1 10/1",
	}
	noSurge := map[int32]string{
		1:  "0/1 0/1 0/1 0/1 0/1 0/1 1/0 1/0 1/0 1/0",
		2:  "1/1 1/1 1/1 1/1 1/1 1/1 1/1 1/1★ 1/1 1/1",
		3:  "1/2 1/2 1/2 1/2 1/2 1/2 2/1 2/1 2/1 2/1",
		5:  "1/4 1/4 1/4 1/4 1/4 2/3 3/2 4/1 4/1★ 4/1",
		10: "1/9 1/9 1/9 2/8 3/7 3/7 5/5 8/2 9/1 9/1",
	}
	check := func(name string, table map[int32]string, surgeOf func(int32) int32) {
		for r, row := range table {
			want := strings.Fields(strings.ReplaceAll(row, "★", ""))
			for i, w := range weights {
				c, s := BasicCanaryCounts(r, w, 100, surgeOf(r))
				if got := fmt.Sprintf("%d/%d", c, s); got != want[i] {
					t.Errorf("%s: replicas %d weight %d: got %s, want %s", name, r, w, got, want[i])
				}
			}
		}
	}
	check("default 25%/25%", defaults, func(r int32) int32 { s, _ := Fenceposts(r, nil, nil); return s })
	check("maxSurge 0", noSurge, func(int32) int32 { return 0 })
}

func TestBasicCanaryCountsDocsExamples(t *testing.T) {
	for _, tc := range []struct{ replicas, weight, surge, canary, stable int32 }{
		{3, 20, 1, 1, 3},  // the question: 1 canary + 3 stable = 25 %
		{3, 20, 0, 1, 2},  // maxSurge 0: 1 + 2 = 33 %
		{10, 41, 3, 4, 6}, // Argo docs
		{5, 20, 2, 1, 4},  // 5 replicas: exactly 20 %
		{3, 0, 1, 0, 3},
		{3, 100, 1, 3, 0},
		{0, 50, 0, 0, 0},
	} {
		c, s := BasicCanaryCounts(tc.replicas, tc.weight, 100, tc.surge)
		if c != tc.canary || s != tc.stable {
			t.Errorf("BasicCanaryCounts(%d, %d, surge %d) = %d/%d, want %d/%d", tc.replicas, tc.weight, tc.surge, c, s, tc.canary, tc.stable)
		}
	}
}

func TestTrafficRoutedCanaryCount(t *testing.T) {
	for _, tc := range []struct{ replicas, weight, minPods, want int32 }{
		{3, 20, 0, 1}, {10, 1, 0, 1}, {10, 41, 0, 5}, {3, 0, 2, 0}, {10, 10, 3, 3}, {2, 10, 5, 2}, {4, 100, 0, 4},
	} {
		if got := TrafficRoutedCanaryCount(tc.replicas, tc.weight, 100, tc.minPods); got != tc.want {
			t.Errorf("TrafficRoutedCanaryCount(%d, %d, min %d) = %d, want %d", tc.replicas, tc.weight, tc.minPods, got, tc.want)
		}
	}
}

func FuzzBasicCanaryCounts(f *testing.F) {
	f.Add(int32(3), int32(20), int32(1))
	f.Add(int32(5), int32(90), int32(0))
	f.Fuzz(func(t *testing.T, replicas, weight, surge int32) {
		replicas, weight, surge = abs(replicas)%1000, abs(weight)%101, abs(surge)%1000
		c, s := BasicCanaryCounts(replicas, weight, 100, surge)
		if c < 0 || s < 0 {
			t.Fatalf("negative counts %d/%d", c, s)
		}
		total := c + s
		if total != replicas && (surge == 0 || total != replicas+1) {
			t.Fatalf("replicas %d surge %d weight %d: total %d", replicas, surge, weight, total)
		}
		if replicas > 1 && weight > 0 && weight < 100 && (c == 0 || s == 0) {
			t.Fatalf("replicas %d weight %d: %d/%d leaves a side empty", replicas, weight, c, s)
		}
		if weight == 0 && c != 0 || weight == 100 && s != 0 {
			t.Fatalf("weight %d: %d/%d", weight, c, s)
		}
	})
}

func abs(v int32) int32 {
	if v < 0 {
		if v == -v { // MinInt32
			return 0
		}
		return -v
	}
	return v
}
