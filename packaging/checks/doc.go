// Package checks holds no code: its tests lint the packaging sources that
// only Linux can check for the other platforms too — the systemd unit
// (systemd-analyze verify), the desktop entry (desktop-file-validate), the
// macOS LaunchDaemon and app bundle (plist structure and keys, bundle
// layout, also through python3's plistlib when present), the WiX source
// (well-formed, every component referenced, the service wired to
// "cvpn service run") and the maintainer scripts (sh -n and the systemctl
// calls they make).
package checks
