package nstest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// IPStat returns one counter of the "Ip:" lines of /proc/net/snmp as seen
// in namespace ns, for example FragCreates (IPv4 fragments this namespace
// made because a packet was larger than the link MTU) or ReasmReqds
// (fragments it had to reassemble).
func IPStat(ctx context.Context, ns, name string) (uint64, error) {
	out, err := Run(ctx, ns, "cat", "/proc/net/snmp")
	if err != nil {
		return 0, err
	}
	return parseSNMP(out, "Ip", name)
}

// parseSNMP finds counter name in the prefix: header line of a
// /proc/net/snmp dump and returns the value below it.
func parseSNMP(dump, prefix, name string) (uint64, error) {
	var header []string
	for _, line := range strings.Split(dump, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != prefix+":" {
			continue
		}
		if header == nil {
			header = f[1:]
			continue
		}
		for i, h := range header {
			if h == name && i+1 < len(f) {
				return strconv.ParseUint(f[i+1], 10, 64)
			}
		}
		break
	}
	return 0, fmt.Errorf("nstest: no %s counter %q in /proc/net/snmp", prefix, name)
}
