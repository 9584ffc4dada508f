// Package bench holds the side-by-side tunnel benchmark of `make bench`: in
// a namespace lab it measures cvpn and the OpenVPN 2.6 client against the
// same OpenVPN 2.6 server (throughput with iperf3 in both directions, time
// to connected, CPU per GB for each direction, resident memory) and writes
// bench/results.md. TestServerBenchmark does the same with our server: our
// client + server against the OpenVPN pair (a), and the OpenVPN client
// against our server (c). TestWireguardBenchmark puts our client + server
// beside a wireguard-go pair built at the version go.mod pins and
// configured over its UAPI socket (the userspace Go reference).
// TestOpenVPN27Benchmark does the same against OpenVPN 2.7 (the sid
// chroot): the cvpn pair, the 2.7 pair and our client against the 2.7
// server, noting whether epoch data keys were in use.
// TestConnectTimeline shows where our connect time goes: it writes the
// "Connect time: where it goes" section (connect and start-up medians of
// both clients, the Go runtime's floor measured with bench/emptyprog, and
// our client's phases) and logs every line of the median connect,
// time-stamped from process start;
// CVPN_BENCH_WRAP=script runs cvpn through that script there (for example
// `exec strace -f -ttt -o /tmp/st.$$ /path/to/cvpn "$@"`). All run only when
// CVPN_BENCH=1, so `go test ./...` skips them; see
// benchOptions for the knobs (one row, runs, perf profiles).
//
// The micro-benchmarks of the TUN <-> socket loop are in ovpn/client
// (BenchmarkDataPathUpload/Download, run with -benchmem: 0 allocs per batch).
package bench
