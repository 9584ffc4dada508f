// Package platformtest is an in-memory platform.System for tests: a main routing
// table that emits route events, interfaces with TUN devices backed by
// channels (wireguard's tuntest), longest-prefix route lookup, and a DNS
// recorder. Crash simulates a killed process (its TUN and the routes through
// it vanish, nothing else is undone).
package platformtest
