// Package bench holds the side-by-side tunnel benchmark of `make bench`: in
// a namespace lab it measures cvpn and the OpenVPN 2.6 client against the
// same OpenVPN 2.6 server (throughput with iperf3 in both directions, time
// to connected, CPU per GB, resident memory) and writes bench/results.md.
// It runs only when CVPN_BENCH=1, so `go test ./...` skips it.
package bench
