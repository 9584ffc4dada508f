package policy

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// OSSource is the managed source of Windows: the values under
// HKLM\SOFTWARE\Policies\cvpn\cvpn (GPO, Intune, the MSI's properties).
func OSSource() Source { return RegistrySource{Key: RegistryKey} }

// RegistrySource reads policy values from a key under HKEY_LOCAL_MACHINE
// (64-bit view). Value names are the policy keys (case does not matter);
// REG_DWORD/REG_QWORD, REG_SZ (REG_EXPAND_SZ is expanded) and
// REG_MULTI_SZ values are read.
type RegistrySource struct{ Key string }

// Name implements Source.
func (s RegistrySource) Name() string { return `registry HKLM\` + s.Key }

// Entry implements Source.
func (RegistrySource) Entry() string { return "value" }

// Read implements Source.
func (s RegistrySource) Read() (map[string]any, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, s.Key, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer k.Close()
	names, err := k.ReadValueNames(-1)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(names))
	for _, n := range names {
		if n == "" {
			continue // the key's (Default) value
		}
		v, err := readValue(k, n)
		if err != nil {
			return nil, fmt.Errorf("value %s: %w", n, err)
		}
		out[strings.ToLower(n)] = v
	}
	return out, nil
}

func readValue(k registry.Key, name string) (any, error) {
	_, typ, err := k.GetValue(name, nil)
	if err != nil {
		return nil, err
	}
	switch typ {
	case registry.DWORD, registry.QWORD:
		n, _, err := k.GetIntegerValue(name)
		return n, err
	case registry.SZ, registry.EXPAND_SZ:
		s, _, err := k.GetStringValue(name)
		if err == nil && typ == registry.EXPAND_SZ {
			s, err = registry.ExpandString(s)
		}
		return s, err
	case registry.MULTI_SZ:
		l, _, err := k.GetStringsValue(name)
		return l, err
	default:
		return nil, fmt.Errorf("registry type %d is not used by cvpn (want REG_DWORD, REG_SZ or REG_MULTI_SZ)", typ)
	}
}
