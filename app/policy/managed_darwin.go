package policy

// OSSource is the managed source of macOS: the managed preferences of
// ManagedDomain that a device configuration profile installs.
func OSSource() Source { return PlistSource{Path: ManagedPrefsPath(ManagedDomain)} }
