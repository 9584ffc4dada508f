package main

import (
	"strings"
	"testing"

	"github.com/cvpn/cvpn/app/policy"
)

func TestAdminGroupsFlagOverridesPolicy(t *testing.T) {
	pol, err := policy.Parse("p.toml", "admin_groups = [\"netops\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		pol     policy.Policy
		flagSet bool
		flag    string
		want    string
	}{
		{pol, false, "sudo,admin,wheel", "netops"},
		{pol, true, "it, helpdesk", "it,helpdesk"},
		{policy.Default(), false, "sudo,admin,wheel", "sudo,admin,wheel"},
	}
	for _, c := range cases {
		if got := strings.Join(adminGroups(c.pol, c.flagSet, c.flag), ","); got != c.want {
			t.Errorf("adminGroups(%v, %v, %q) = %q, want %q", c.pol.AdminGroups, c.flagSet, c.flag, got, c.want)
		}
	}
	empty, _ := policy.Parse("p.toml", "admin_groups = []\n")
	if got := adminGroups(empty, false, "sudo"); got == nil || len(got) != 0 {
		t.Errorf("admin_groups = [] gave %#v; want no groups (only root)", got)
	}
}
