// Package watchloop is the one OS-event watch loop behind platform's route
// watchers and platform/netmon: subscribe, snapshot, coalesce, resync
// periodically and after an overflow, and resubscribe with bounded backoff
// after an error. Each OS supplies only a [Receiver] (in the style of
// tailscale's net/netmon: one loop, a per-OS Receive).
package watchloop
