package bench

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// This file sorts after tunnel_linux_test.go, so under `make bench`
// TestOpenVPN27Benchmark runs after TestTunnelBenchmark has started
// results.md and adds its own section.

const v27SectionTitle = "## OpenVPN 2.7: cvpn against the OpenVPN 2.7 client and server"

// dataKeys says which data channel key format a connected client uses:
// "epoch" (OpenVPN 2.7 epoch data keys) or "classic". Our client says so
// in its connected event (data_keys); an OpenVPN client when the server
// pushed protocol-flags with aead-epoch.
func dataKeys(c tunnelClient) string {
	var epoch bool
	switch c := c.(type) {
	case *cvpnClient:
		epoch = strings.Contains(c.p.Output(), `"data_keys":"epoch"`)
	case *ovpnClient:
		epoch = rePushEpoch.MatchString(c.c.Log())
	}
	if epoch {
		return "epoch"
	}
	return "classic"
}

var rePushEpoch = regexp.MustCompile(`PUSH_REPLY[^\n]*protocol-flags[^,'\n]*\baead-epoch\b`)

// pairStat is one pair's samples in a row of the 2.7 table and the data
// key formats seen in its runs.
type pairStat struct {
	name string
	s    []serverSample
	keys map[string]bool
}

// run measures one connected client through a server and records its
// data key format.
func (p *pairStat) run(t *testing.T, lab *nstest.Lab, srv serverUnderTest, c tunnelClient, perf string) {
	t.Helper()
	if p.keys == nil {
		p.keys = map[string]bool{}
	}
	p.keys[dataKeys(c)] = true
	p.s = append(p.s, measurePair(t, lab, srv.tunnelIP, srv.pid, c, perf))
}

func (p *pairStat) keyList() string {
	var l []string
	for _, k := range []string{"epoch", "classic"} {
		if p.keys[k] {
			l = append(l, k)
		}
	}
	return strings.Join(l, "+")
}

// TestOpenVPN27Benchmark measures, against OpenVPN 2.7 (Debian sid's, run
// from the chroot of .ci/sid-chroot.sh): (a) our client + our server, (b)
// the OpenVPN 2.7 client + the OpenVPN 2.7 server and (c) our client
// against the OpenVPN 2.7 server, the three pairs taking turns in every
// run; ratios are against (b). It writes its section into results.md.
func TestOpenVPN27Benchmark(t *testing.T) {
	if os.Getenv("CVPN_BENCH") != "1" {
		t.Skip("set CVPN_BENCH=1 (make bench) to run the OpenVPN 2.7 benchmark")
	}
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "iperf3")
	ver := openvpnpeer.Require27(t)
	opts := benchOptionsFromEnv(t)
	bin := buildCvpn(t)
	type row struct {
		transport, cipher string
		pairs             [3]pairStat // (a), (b), (c)
	}
	var rows []row
	for _, transport := range []string{"udp", "tcp"} {
		for _, cipher := range []string{"AES-256-GCM", "CHACHA20-POLY1305"} {
			if opts.only != "" && opts.only != transport+"/"+cipher {
				continue
			}
			r := row{transport: transport, cipher: cipher, pairs: [3]pairStat{
				{name: "(a) cvpn client + cvpn server"},
				{name: "(b) openvpn " + ver + " client + openvpn " + ver + " server"},
				{name: "(c) cvpn client + openvpn " + ver + " server"},
			}}
			l := startServerLab(t, bin, openvpnpeer.V27, transport, cipher)
			for i := 0; i < opts.runs; i++ {
				r.pairs[1].run(t, l.lab, l.ov, startOpenVPN27(t, l.lab, l.ov.prof), serverPerf(opts, "openvpn27-openvpn27", transport, cipher, i))
				r.pairs[0].run(t, l.lab, l.cv, startCvpn(t, bin, l.lab, l.cv.prof), serverPerf(opts, "cvpn-cvpn", transport, cipher, i))
				r.pairs[2].run(t, l.lab, l.ov, startCvpn(t, bin, l.lab, l.ov.prof), serverPerf(opts, "cvpn-openvpn27", transport, cipher, i))
			}
			l.close()
			rows = append(rows, r)
			for _, p := range r.pairs {
				t.Logf("%s %s %s: up %.0f down %.0f Mbit/s, data keys %s", transport, cipher, p.name,
					medianS(p.s, func(s serverSample) float64 { return s.upMbps }), medianS(p.s, func(s serverSample) float64 { return s.downMbps }), p.keyList())
			}
		}
	}
	var b strings.Builder
	b.WriteString(v27SectionTitle + "\n\n")
	fmt.Fprintf(&b, "Measured on %s, %s; median of %d run(s). OpenVPN %s is Debian sid's, run from a chroot (.ci/sid-chroot.sh) in the same lab as above; ", hostInfo(), time.Now().UTC().Format("2006-01-02 15:04 UTC"), opts.runs, ver)
	b.WriteString("both servers (tls-crypt, one data cipher) run side by side and the three pairs take turns in every run.\n")
	fmt.Fprintf(&b, "(a) the cvpn pair, (b) the OpenVPN %s pair, (c) our client against the OpenVPN %s server; ratios are against (b). ", ver, ver)
	b.WriteString("Data keys: \"epoch\" when the pair used OpenVPN 2.7's epoch data keys (cvpn's connected event `data_keys`; for the OpenVPN client, `aead-epoch` in the pushed protocol-flags).\n\n")
	b.WriteString("| transport | cipher | pair | data keys | upload Mbit/s | download Mbit/s | ratio up | ratio down | connect ms | server CPU s/GB up | server CPU s/GB down | client CPU s/GB up | client CPU s/GB down |\n")
	b.WriteString("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		ref := r.pairs[1].s
		ru := medianS(ref, func(s serverSample) float64 { return s.upMbps })
		rd := medianS(ref, func(s serverSample) float64 { return s.downMbps })
		for _, p := range r.pairs {
			u := medianS(p.s, func(s serverSample) float64 { return s.upMbps })
			d := medianS(p.s, func(s serverSample) float64 { return s.downMbps })
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %.0f | %.0f | %.2fx | %.2fx | %.0f | %.1f | %.1f | %.1f | %.1f |\n", r.transport, r.cipher, p.name, p.keyList(), u, d, u/ru, d/rd,
				medianS(p.s, func(s serverSample) float64 { return float64(s.connect.Milliseconds()) }),
				medianS(p.s, func(s serverSample) float64 { return s.srvUp }), medianS(p.s, func(s serverSample) float64 { return s.srvDown }),
				medianS(p.s, func(s serverSample) float64 { return s.cpuUp }), medianS(p.s, func(s serverSample) float64 { return s.cpuDown }))
		}
	}
	b.WriteString("\nConnect time: from process start to the connected state. CPU s/GB: CPU seconds (user + system) of the server and client process per GB moved in that direction.\n")
	writeSection(t, v27SectionTitle, b.String())
}

func startOpenVPN27(t *testing.T, lab *nstest.Lab, prof string) tunnelClient {
	return &ovpnClient{c: openvpnpeer.Connect(t, openvpnpeer.ClientConfig{NS: lab.Client, Profile: prof, Version: openvpnpeer.V27})}
}
