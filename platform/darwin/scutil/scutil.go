package scutil

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Keys of the dynamic store used by cvpn.
const (
	GlobalIPv4 = "State:/Network/Global/IPv4"
)

// ErrNoKey is returned by Parse when scutil reports "No such key".
var ErrNoKey = errors.New("scutil: no such key")

// DNSKey is the DNS key of a network service in the dynamic store.
func DNSKey(serviceID string) string {
	return "State:/Network/Service/" + serviceID + "/DNS"
}

// Dict is a dynamic store dictionary of strings, numbers and arrays of
// them, the shape of the DNS and global IPv4 dictionaries. Nested
// dictionaries are not supported.
type Dict struct {
	Scalars map[string]string   `json:"scalars,omitempty"`
	Arrays  map[string][]string `json:"arrays,omitempty"`
}

// Equal reports whether d and o hold the same keys and values.
func (d Dict) Equal(o Dict) bool {
	if len(d.Scalars) != len(o.Scalars) || len(d.Arrays) != len(o.Arrays) {
		return false
	}
	for k, v := range d.Scalars {
		if w, ok := o.Scalars[k]; !ok || w != v {
			return false
		}
	}
	for k, v := range d.Arrays {
		if w, ok := o.Arrays[k]; !ok || !slices.Equal(v, w) {
			return false
		}
	}
	return true
}

// numberKeys are keys of DNS dictionaries whose values are numbers; scutil
// needs "#" to add them as numbers rather than strings.
var numberKeys = map[string]bool{
	"SearchOrder": true, "ServerPort": true, "ServerTimeout": true, "SupplementalMatchOrders": true,
}

// DNSDict is the DNS dictionary of a service: servers, search domains and,
// when match is not empty, the supplemental match domains (split DNS).
func DNSDict(servers []netip.Addr, search, match []string) Dict {
	d := Dict{Arrays: map[string][]string{}}
	for _, s := range servers {
		d.Arrays["ServerAddresses"] = append(d.Arrays["ServerAddresses"], s.String())
	}
	if len(search) > 0 {
		d.Arrays["SearchDomains"] = slices.Clone(search)
	}
	if len(match) > 0 {
		d.Arrays["SupplementalMatchDomains"] = slices.Clone(match)
	}
	return d
}

// token checks that s can be written as one scutil word.
func token(what, s string) error {
	if s == "" {
		return fmt.Errorf("scutil: empty %s", what)
	}
	if strings.ContainsAny(s, " \t\r\n\"'\\#*{}<>") {
		return fmt.Errorf("scutil: %s %q contains a character scutil cannot take", what, s)
	}
	return nil
}

// ShowScript prints key.
func ShowScript(key string) (string, error) {
	if err := token("key", key); err != nil {
		return "", err
	}
	return "show " + key + "\n", nil
}

// RemoveScript removes key.
func RemoveScript(key string) (string, error) {
	if err := token("key", key); err != nil {
		return "", err
	}
	return "remove " + key + "\n", nil
}

// SetScript replaces key by d: d.init, one d.add per value in sorted key
// order ("*" for arrays, "#" for numbers), then set.
func SetScript(key string, d Dict) (string, error) {
	if err := token("key", key); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("d.init\n")
	var keys []string
	for k := range d.Scalars {
		keys = append(keys, k)
	}
	for k := range d.Arrays {
		if _, dup := d.Scalars[k]; dup {
			return "", fmt.Errorf("scutil: key %s is both a value and an array", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := token("dictionary key", k); err != nil {
			return "", err
		}
		b.WriteString("d.add " + k)
		if numberKeys[k] {
			b.WriteString(" #")
		}
		if v, ok := d.Scalars[k]; ok {
			if err := token(k+" value", v); err != nil {
				return "", err
			}
			b.WriteString(" " + v + "\n")
			continue
		}
		b.WriteString(" *")
		for _, v := range d.Arrays[k] {
			if err := token(k+" value", v); err != nil {
				return "", err
			}
			b.WriteString(" " + v)
		}
		b.WriteString("\n")
	}
	b.WriteString("set " + key + "\n")
	return b.String(), nil
}

// Parse parses the output of `show <key>`:
//
//	<dictionary> {
//	  SearchDomains : <array> {
//	    0 : corp.example
//	  }
//	  SearchOrder : 1
//	}
//
// It returns ErrNoKey when scutil printed "No such key".
func Parse(out string) (Dict, error) {
	lines := strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n")
	d := Dict{Scalars: map[string]string{}, Arrays: map[string][]string{}}
	state := 0 // 0 before the dictionary, 1 inside, 2 inside an array, 3 after
	var arrayKey string
	for i, raw := range lines {
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		ln := i + 1
		switch state {
		case 0:
			if strings.Contains(line, "No such key") {
				return Dict{}, ErrNoKey
			}
			if line != "<dictionary> {" {
				return Dict{}, fmt.Errorf("scutil: line %d: %q, want \"<dictionary> {\"", ln, line)
			}
			state = 1
		case 1:
			if line == "}" {
				state = 3
				continue
			}
			k, v, ok := strings.Cut(line, " : ")
			if !ok {
				return Dict{}, fmt.Errorf("scutil: line %d: %q is not \"key : value\"", ln, line)
			}
			switch {
			case v == "<array> {":
				arrayKey = k
				d.Arrays[k] = []string{}
				state = 2
			case strings.HasPrefix(v, "<dictionary>"):
				return Dict{}, fmt.Errorf("scutil: line %d: nested dictionary %s is not supported", ln, k)
			default:
				d.Scalars[k] = v
			}
		case 2:
			if line == "}" {
				state = 1
				continue
			}
			idx, v, ok := strings.Cut(line, " : ")
			if !ok || idx != fmt.Sprint(len(d.Arrays[arrayKey])) {
				return Dict{}, fmt.Errorf("scutil: line %d: %q is not element %d of %s", ln, line, len(d.Arrays[arrayKey]), arrayKey)
			}
			d.Arrays[arrayKey] = append(d.Arrays[arrayKey], v)
		case 3:
			return Dict{}, fmt.Errorf("scutil: line %d: %q after the dictionary", ln, line)
		}
	}
	if state != 3 {
		return Dict{}, errors.New("scutil: output ends inside the dictionary")
	}
	if len(d.Scalars) == 0 {
		d.Scalars = nil
	}
	if len(d.Arrays) == 0 {
		d.Arrays = nil
	}
	return d, nil
}

// PrimaryService returns PrimaryService of the State:/Network/Global/IPv4
// dictionary.
func PrimaryService(global Dict) (string, error) {
	id := global.Scalars["PrimaryService"]
	if id == "" {
		return "", fmt.Errorf("scutil: %s has no PrimaryService", GlobalIPv4)
	}
	if err := token("service id", id); err != nil {
		return "", err
	}
	return id, nil
}
