package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cvpn/cvpn/ovpn/server"
	"github.com/cvpn/cvpn/ovpn/server/config"
	"github.com/cvpn/cvpn/ovpn/server/export"
	"github.com/cvpn/cvpn/ovpn/server/pki"
)

func serverCommand() command {
	return command{name: "server", summary: "run the reference server (an AWS Client VPN-style endpoint)", run: runServer}
}

func serverSubcommands() []command {
	return []command{
		{name: "init", summary: "write a lab: server.toml, a PKI and client1.ovpn", run: runServerInit},
		{name: "run", summary: "run the endpoint in the foreground", run: runServerRun},
		{name: "export-client-config", summary: "print or write a client profile for the endpoint", run: runServerExport},
		{name: "connections", summary: "list the connections of a running endpoint", run: runServerConnections},
		{name: "terminate", summary: "end one connection of a running endpoint", run: runServerTerminate},
		{name: "push-update", summary: "change routes, DNS... of a live connection (OpenVPN 2.7 PUSH_UPDATE)", run: runServerPushUpdate},
	}
}

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func(w io.Writer) {
		var b strings.Builder
		b.WriteString("usage: cvpn server SUBCOMMAND [ARGUMENTS]\n\nsubcommands:\n")
		for _, c := range serverSubcommands() {
			fmt.Fprintf(&b, "  %-21s %s\n", c.name, c.summary)
		}
		io.WriteString(w, b.String())
	}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	for _, c := range serverSubcommands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "cvpn server: unknown subcommand %q\n\n", args[0])
	usage(stderr)
	return 2
}

func runServerInit(_ context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("cvpn server init", "cvpn server init DIR [--cn NAME] [--public-address HOST]",
		"Write DIR/server.toml, a lab PKI under DIR/pki (CA, server, client1) and DIR/client1.ovpn.")
	cn := f.String("cn", "server", "common name of the server certificate")
	pub := f.String("public-address", "127.0.0.1", "host name or address clients dial (the profile's remote)")
	listen := f.String("listen", config.DefaultListen, "listen address of the endpoint")
	ecdsa := f.Bool("ecdsa", false, "ECDSA P-256 keys instead of RSA 2048")
	pos, code, ok := f.parse(args, 1, 1, stdout, stderr)
	if !ok {
		return code
	}
	o := export.InitOptions{CN: *cn, PublicAddress: *pub, Listen: *listen}
	if *ecdsa {
		o.PKI.KeyType = pki.ECDSAP256
	}
	paths, err := export.InitLab(pos[0], o)
	if err != nil {
		fmt.Fprintf(stderr, "cvpn server init: %v\n", err)
		return 1
	}
	for _, p := range paths {
		fmt.Fprintln(stdout, "wrote", p)
	}
	fmt.Fprintf(stdout, "start the endpoint with: cvpn server run --config %s\n", paths[0])
	return 0
}

func configFlag(f *cmdFlags) *string {
	return f.String("config", "", "server configuration file (server.toml)")
}

func loadServerConfig(name string, path string, stderr io.Writer) (*config.Config, bool) {
	if path == "" {
		fmt.Fprintf(stderr, "%s: --config FILE is required\n", name)
		return nil, false
	}
	c, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return nil, false
	}
	return c, true
}

func runServerRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("cvpn server run", "cvpn server run --config FILE [--verbose]",
		"Run the endpoint in the foreground until SIGINT/SIGTERM; clients are told to\nreconnect (RESTART) on shutdown. Needs root or CAP_NET_ADMIN for its TUN device.")
	cfgPath := configFlag(f)
	verbose := f.Bool("verbose", false, "debug logging")
	if _, code, ok := f.parse(args, 0, 0, stdout, stderr); !ok {
		return code
	}
	c, ok := loadServerConfig("cvpn server run", *cfgPath, stderr)
	if !ok {
		return 1
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, err := server.New(c, server.Options{Logger: logger, Ready: func(i server.Info) {
		fmt.Fprintf(stderr, "cvpn server: listening on %s %s (device %s, metrics %s)\n", c.Transport, i.Listen, i.Device, orDash(i.Metrics))
	}})
	if err != nil {
		fmt.Fprintf(stderr, "cvpn server run: %v\n", err)
		return 1
	}
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "cvpn server run: %v\n", err)
		return 1
	}
	return 0
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runServerExport(_ context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("cvpn server export-client-config", "cvpn server export-client-config --config FILE [--client NAME] [--out FILE]",
		"Render the client profile of the endpoint, shaped like an AWS Client VPN export.")
	cfgPath := configFlag(f)
	client := f.String("client", export.DefaultClient, "client certificate name (mutual authentication)")
	out := f.String("out", "", "write the profile to FILE (mode 0600) instead of stdout")
	if _, code, ok := f.parse(args, 0, 0, stdout, stderr); !ok {
		return code
	}
	c, ok := loadServerConfig("cvpn server export-client-config", *cfgPath, stderr)
	if !ok {
		return 1
	}
	prof, err := export.Profile(c, *client)
	if err != nil {
		fmt.Fprintf(stderr, "cvpn server export-client-config: %v\n", err)
		return 1
	}
	if *out == "" {
		io.WriteString(stdout, prof)
		return 0
	}
	if err := pki.WriteFileAtomic(*out, []byte(prof), 0o600); err != nil {
		fmt.Fprintf(stderr, "cvpn server export-client-config: %v\n", err)
		return 1
	}
	return 0
}

func adminSocket(name string, cfgPath string, stderr io.Writer) (string, bool) {
	c, ok := loadServerConfig(name, cfgPath, stderr)
	if !ok {
		return "", false
	}
	if c.Admin.Socket == "" {
		fmt.Fprintf(stderr, "%s: %s: admin.socket is not set, so the running server cannot be asked\n", name, c.Path)
		return "", false
	}
	return c.Admin.Socket, true
}

func runServerConnections(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("cvpn server connections", "cvpn server connections --config FILE [--json]",
		"List the connections of a running endpoint (through its admin socket).")
	cfgPath := configFlag(f)
	asJSON := f.Bool("json", false, "print a JSON array")
	if _, code, ok := f.parse(args, 0, 0, stdout, stderr); !ok {
		return code
	}
	sock, ok := adminSocket("cvpn server connections", *cfgPath, stderr)
	if !ok {
		return 1
	}
	resp, err := server.AdminCall(ctx, sock, server.AdminRequest{Command: "connections"})
	if err != nil {
		fmt.Fprintf(stderr, "cvpn server connections: %v\n", err)
		return 1
	}
	if *asJSON {
		if err := writeJSON(stdout, resp.Connections); err != nil {
			return 1
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTION ID\tSTATUS\tCOMMON NAME\tUSERNAME\tCLIENT IP\tENDPOINT\tSINCE\tIN\tOUT")
	for _, c := range resp.Connections {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", c.ID, c.Status, orDash(c.CommonName), orDash(c.Username),
			orDash(c.ClientIP), c.Endpoint, c.Start.UTC().Format(time.DateTime), c.IngressBytes, c.EgressBytes)
	}
	tw.Flush()
	return 0
}

func runServerTerminate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("cvpn server terminate", "cvpn server terminate --config FILE CONNECTION_ID",
		"End one connection of a running endpoint (the client is told HALT).")
	cfgPath := configFlag(f)
	pos, code, ok := f.parse(args, 1, 1, stdout, stderr)
	if !ok {
		return code
	}
	sock, ok := adminSocket("cvpn server terminate", *cfgPath, stderr)
	if !ok {
		return 1
	}
	if _, err := server.AdminCall(ctx, sock, server.AdminRequest{Command: "terminate", ConnectionID: pos[0]}); err != nil {
		fmt.Fprintf(stderr, "cvpn server terminate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "terminated %s\n", pos[0])
	return 0
}
