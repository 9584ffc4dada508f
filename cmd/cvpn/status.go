package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cvpn/cvpn/app/ipc"
)

func statusCommand() command {
	return command{name: "status", summary: "show the daemon's connections", run: runStatus}
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("status", "cvpn status [--json]",
		"Shows every connection of the cvpn daemon: state, owner, tunnel addresses, server, bytes in\n"+
			"and out, and how long it has been connected. Every local user may run it.")
	asJSON := f.Bool("json", false, `print {"connections":[...]} as JSON`)
	if _, code, ok := f.parse(args, 0, 0, stdout, stderr); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := ipc.Dial(ctx, ipc.SocketPath(), ipc.ClientOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "cvpn status: %v\n", err)
		return 1
	}
	defer c.Close()
	list, err := c.Status(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "cvpn status: %v\n", err)
		return 1
	}
	if *asJSON {
		if list == nil {
			list = []ipc.Status{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			Connections []ipc.Status `json:"connections"`
		}{list})
		return 0
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "No connections.")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tOWNER\tADDRESSES\tINTERFACE\tSERVER\tIN\tOUT\tDURATION")
	for _, s := range list {
		owner := s.Owner
		if owner == "" {
			owner = fmt.Sprintf("uid %d", s.OwnerUID)
		}
		if s.Managed {
			owner = "managed (policy)"
		}
		var addrs []string
		for _, a := range []string{s.TunnelIPv4, s.TunnelIPv6} {
			if a != "" {
				addrs = append(addrs, a)
			}
		}
		dur := "-"
		if !s.ConnectedAt.IsZero() {
			dur = (time.Duration(s.DurationSeconds) * time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.State, owner, dash(strings.Join(addrs, ",")),
			dash(s.Interface), dash(s.Server), byteSize(s.BytesIn), byteSize(s.BytesOut), dur)
	}
	tw.Flush()
	for _, s := range list {
		if s.Blocked != "" {
			fmt.Fprintf(stdout, "%s: traffic outside the tunnel is blocked while it is down (%s); `cvpn unblock` lifts it.\n", s.Name, s.Blocked)
		}
	}
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// byteSize formats a byte count in binary units.
func byteSize(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
