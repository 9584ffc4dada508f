// Package netmon tells a VPN session when the network under it changed: the
// default route (IPv4 or IPv6) or its interface, a local address, a link
// going up or down, or a resume from sleep. It runs platform's one watch
// loop (platform/internal/watchloop) over a per-OS source: netlink link,
// address and route events on Linux, the routing socket on macOS,
// NotifyIpInterfaceChange, NotifyUnicastIpAddressChange and
// NotifyRouteChange2 on Windows. Resume comes from logind's PrepareForSleep
// signal on the system D-Bus (Linux), PowerRegisterSuspendResumeNotification's
// PBT_APMRESUMEAUTOMATIC (Windows), IORegisterForSystemPower's
// kIOMessageSystemHasPoweredOn (macOS, IOKit called through purego without
// cgo) and, on every OS, from a jump of the wall clock (the portable
// fallback). Sleep is reported before it happens from PrepareForSleep(true),
// PBT_APMSUSPEND and kIOMessageSystemWillSleep.
//
// Events are only triggers: after each coalesced burst the monitor reads
// the network state again and reports a [Change] only when the state
// differs, so interfaces of cvpn's own tunnel (Options.IgnoreInterfaces)
// and churn that ends where it started report nothing.
package netmon
