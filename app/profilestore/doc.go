// Package profilestore keeps the user's imported VPN profiles: one
// self-contained .ovpn file per profile (every referenced certificate and
// key inlined), mode 0600 in a 0700 folder under the per-user data root
// (CVPN_HOME, or the OS config directory + "/cvpn"). Writes are atomic
// (temporary file, fsync, link/rename, directory fsync) so a crash never
// leaves a half-written profile, and an existing name is never replaced.
package profilestore
