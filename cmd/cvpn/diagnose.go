package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/cvpn/cvpn/app/diagnose"
	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/policy"
	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/app/session"
)

func diagnoseCommand() command {
	return command{name: "diagnose", summary: "write a support bundle (zip) with every secret redacted", run: runDiagnose}
}

func runDiagnose(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("diagnose", "cvpn diagnose [--out FILE.zip] [--policy FILE]",
		"Writes a support bundle for IT: versions, OS, the policy, profile summaries, and from the daemon\n"+
			"the connections' routes and DNS as applied, the enforcement journal, recent events and the\n"+
			"connection logs. Keys, passwords, tokens and SAML assertions are removed. Through the daemon\n"+
			"a user's bundle holds only that user's connections; an administrator's holds all. Without the\n"+
			"daemon it collects the rest and says what it could not.")
	out := f.String("out", "", "write the bundle to `FILE.zip` (default cvpn-diagnostics-DATE-TIME.zip here)")
	policyFile := f.String("policy", "", "the policy `FILE` (default $"+policy.EnvPolicy+" or "+policy.DefaultPath()+")")
	if _, code, ok := f.parse(args, 0, 0, stdout, stderr); !ok {
		return code
	}
	path := *out
	if path == "" {
		path = diagnose.DefaultName(time.Now())
	}
	root, err := profilestore.DefaultRoot()
	if err != nil {
		root = ""
	}
	logs := ""
	if st, err := session.DefaultStateDir(); err == nil {
		logs = filepath.Join(st, "logs")
	}
	rep, err := diagnose.Save(ctx, path, diagnose.Options{
		LocalLogs:  logs,
		Version:    version,
		PolicyPath: policy.Resolve(*policyFile),
		UserRoot:   root,
		Daemon:     diagnose.FromDaemon(ipc.SocketPath(), 10*time.Second),
	})
	if err != nil {
		fmt.Fprintf(stderr, "cvpn diagnose: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "Wrote %s (%d files).\n", path, len(rep.Files))
	for _, m := range rep.Missing {
		fmt.Fprintf(stdout, "  not collected: %s\n", m)
	}
	return 0
}
