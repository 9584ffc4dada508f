package bench

import (
	"fmt"
	"slices"
	"time"

	"github.com/cvpn/cvpn/internal/atomicfile"
)

// spread is the median, minimum and maximum of a set of timings: the
// cells of the roaming and daemon-connect tables.
type spread struct{ median, min, max time.Duration }

func spreadOf(v []time.Duration) spread {
	if len(v) == 0 {
		return spread{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return spread{median: s[len(s)/2], min: s[0], max: s[len(s)-1]}
}

// cells is "median | min | max" in whole milliseconds.
func (s spread) cells() string {
	return fmt.Sprintf("%s | %s | %s", roamMS(s.median), roamMS(s.min), roamMS(s.max))
}

func medianDuration(v []time.Duration) time.Duration { return spreadOf(v).median }

func roamMS(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// writeFileAtomic replaces path with text in one rename, so an interrupted
// run leaves the previous results whole.
func writeFileAtomic(path, text string) error {
	return atomicfile.Write(path, []byte(text), atomicfile.Options{Mode: 0o644})
}
