package main

import (
	"fmt"
	"io"

	"github.com/cvpn/cvpn/app/policy"
	"github.com/cvpn/cvpn/app/profilestore"
)

// loadPolicy reads the administrator's policy ($CVPN_POLICY or the OS
// default path, or flag when set), printing an error naming the file, line
// and key when it is bad.
func loadPolicy(flag string, stderr io.Writer) (policy.Policy, bool) {
	pol, err := policy.Load(policy.Resolve(flag))
	if err != nil {
		fmt.Fprintf(stderr, "cvpn: %v\n", err)
		return pol, false
	}
	return pol, true
}

// systemStore is the policy's read-only folder of system profiles.
func systemStore(pol policy.Policy) *profilestore.Store {
	return profilestore.OpenSystem(pol.ProfilesDir, profilestore.Options{})
}
