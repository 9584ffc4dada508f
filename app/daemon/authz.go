package daemon

import (
	"fmt"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"github.com/cvpn/cvpn/app/ipc"
)

// DefaultAdminGroups are the groups whose members may control every
// connection.
var DefaultAdminGroups = []string{"sudo", "admin", "wheel"}

// Authorizer decides who may control (disconnect) a connection: the user
// that started it, root, and members of an admin group; on Windows (peers
// with a SID) the user that started it and administrators (ipc.Peer.Admin:
// LocalSystem or an elevated member of BUILTIN\Administrators). Everyone
// may read status and start connections.
type Authorizer struct {
	// AdminGroups, nil for DefaultAdminGroups.
	AdminGroups []string
	// GroupsOf lists the group names of a uid; nil uses the OS user
	// database.
	GroupsOf func(uid int) ([]string, error)
}

func (a Authorizer) adminGroups() []string {
	if a.AdminGroups != nil {
		return a.AdminGroups
	}
	return DefaultAdminGroups
}

// MayControl returns nil when peer may control a connection owned by
// owner, else an error saying who may.
func (a Authorizer) MayControl(peer, owner ipc.Peer, conn string) error {
	if peer.SameUser(owner) || a.IsAdmin(peer) {
		return nil
	}
	if peer.SID != "" {
		return &ipc.Error{Code: ipc.CodeDenied, Message: fmt.Sprintf(
			"connection %s belongs to %s; only that user, SYSTEM or an elevated administrator (BUILTIN\\Administrators) may change it (you are %s)",
			conn, userLabel(owner), userLabel(peer))}
	}
	return &ipc.Error{Code: ipc.CodeDenied, Message: fmt.Sprintf(
		"connection %s belongs to %s; only that user, root or members of the groups %s may change it (you are %s)",
		conn, userLabel(owner), strings.Join(a.adminGroups(), ", "), userLabel(peer))}
}

// IsAdmin reports whether peer may control every connection: root or a
// member of an admin group; on Windows (peers with a SID) LocalSystem or
// an elevated administrator (ipc.Peer.Admin, set by the transport; unix
// group names do not apply).
func (a Authorizer) IsAdmin(peer ipc.Peer) bool {
	if peer.SID != "" {
		return peer.Admin
	}
	if peer.UID == 0 {
		return true
	}
	groups := a.adminGroups()
	if len(groups) == 0 {
		return false
	}
	gf := a.GroupsOf
	if gf == nil {
		gf = osGroupsOf
	}
	names, err := gf(peer.UID)
	if err != nil {
		return false
	}
	for _, g := range names {
		if slices.Contains(groups, g) {
			return true
		}
	}
	return false
}

// osGroupsOf reads the group names of uid from the user database.
func osGroupsOf(uid int) ([]string, error) {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return nil, err
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, id := range ids {
		if g, err := user.LookupGroupId(id); err == nil {
			names = append(names, g.Name)
		}
	}
	return names, nil
}

// userName is the login name of a peer, "" when unknown.
func userName(p ipc.Peer) string {
	if p.SID != "" {
		return p.SID
	}
	if u, err := user.LookupId(strconv.Itoa(p.UID)); err == nil {
		return u.Username
	}
	return ""
}

func userLabel(p ipc.Peer) string {
	if p.SID != "" {
		return "user " + p.SID
	}
	if n := userName(p); n != "" {
		return fmt.Sprintf("user %s (uid %d)", n, p.UID)
	}
	return fmt.Sprintf("uid %d", p.UID)
}
