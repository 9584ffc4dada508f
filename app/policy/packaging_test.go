package policy

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"howett.net/plist"
)

// The files IT deploys, checked against the keys this package reads: the
// example configuration profile, the ADMX/ADML template and the MSI's
// properties.
const (
	mobileconfigFile = "../../packaging/macos/cvpn-policy.mobileconfig"
	admxFile         = "../../packaging/windows/admx/cvpn.admx"
	admlFile         = "../../packaging/windows/admx/en-US/cvpn.adml"
	wxsFile          = "../../packaging/windows/cvpn.wxs"
)

// xmlNode is a generic element tree.
type xmlNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []xmlNode  `xml:",any"`
	Text    string     `xml:",chardata"`
}

func (n xmlNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// walk calls f on n and every element below it.
func (n xmlNode) walk(f func(xmlNode)) {
	f(n)
	for _, c := range n.Nodes {
		c.walk(f)
	}
}

// readXML checks that file is well-formed XML (one root, every tag closed,
// no stray text) and returns its tree.
func readXML(t *testing.T, file string) xmlNode {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(string(data)))
	d.Strict = true
	roots := 0
	depth := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, _ := d.InputPos()
			t.Fatalf("%s:%d: not well-formed XML: %v", file, line, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && strings.TrimSpace(string(tok)) != "" {
				t.Fatalf("%s: text outside the root element: %q", file, tok)
			}
		}
	}
	if roots != 1 {
		t.Fatalf("%s: %d root elements, want 1", file, roots)
	}
	var n xmlNode
	if err := xml.Unmarshal(data, &n); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return n
}

func TestMobileconfigExample(t *testing.T) {
	readXML(t, mobileconfigFile)
	data, err := os.ReadFile(mobileconfigFile)
	if err != nil {
		t.Fatal(err)
	}
	var profile struct {
		PayloadType, PayloadScope, PayloadUUID, PayloadIdentifier string
		PayloadVersion                                            int
		PayloadContent                                            []map[string]any
	}
	if _, err := plist.Unmarshal(data, &profile); err != nil {
		t.Fatalf("%s: %v", mobileconfigFile, err)
	}
	uuid := regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$`)
	if profile.PayloadType != "Configuration" || profile.PayloadScope != "System" || profile.PayloadVersion != 1 ||
		!uuid.MatchString(profile.PayloadUUID) || profile.PayloadIdentifier == "" || len(profile.PayloadContent) != 1 {
		t.Fatalf("%s: want one System-scoped Configuration profile with one payload, got %+v", mobileconfigFile, profile)
	}
	payload := profile.PayloadContent[0]
	if payload["PayloadType"] != ManagedDomain || !uuid.MatchString(payload["PayloadUUID"].(string)) || payload["PayloadUUID"] == profile.PayloadUUID {
		t.Fatalf("payload: PayloadType %v (want %s), PayloadUUID %v", payload["PayloadType"], ManagedDomain, payload["PayloadUUID"])
	}
	// What macOS writes to /Library/Managed Preferences is the payload's
	// dictionary: cvpn must accept every key of the example.
	bin, err := plist.Marshal(payload, plist.BinaryFormat)
	if err != nil {
		t.Fatal(err)
	}
	prefs := filepath.Join(t.TempDir(), ManagedDomain+".plist")
	if err := os.WriteFile(prefs, bin, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadWith(filepath.Join(t.TempDir(), "none.toml"), PlistSource{Path: prefs})
	if err != nil {
		t.Fatalf("the example's payload: %v", err)
	}
	for _, k := range keys {
		if p.From[k] == "" {
			t.Errorf("the example does not show key %s", k)
		}
	}
}

func TestADMXTemplate(t *testing.T) {
	admx, adml := readXML(t, admxFile), readXML(t, admlFile)
	if admx.XMLName.Local != "policyDefinitions" || adml.XMLName.Local != "policyDefinitionResources" {
		t.Fatalf("roots %s and %s, want policyDefinitions and policyDefinitionResources", admx.XMLName.Local, adml.XMLName.Local)
	}
	strs, presentations := map[string]bool{}, map[string]bool{}
	adml.walk(func(n xmlNode) {
		switch n.XMLName.Local {
		case "string":
			strs[n.attr("id")] = true
		case "presentation":
			presentations[n.attr("id")] = true
		}
	})
	ref := regexp.MustCompile(`^\$\((string|presentation)\.([A-Za-z0-9_]+)\)$`)
	var valueNames []string
	policies := 0
	admx.walk(func(n xmlNode) {
		for _, a := range n.Attrs {
			if m := ref.FindStringSubmatch(a.Value); m != nil {
				if (m[1] == "string" && !strs[m[2]]) || (m[1] == "presentation" && !presentations[m[2]]) {
					t.Errorf("%s: %s refers to %s, which %s lacks", admxFile, n.XMLName.Local, a.Value, admlFile)
				}
			} else if strings.HasPrefix(a.Value, "$(") {
				t.Errorf("%s: malformed reference %q", admxFile, a.Value)
			}
		}
		if n.XMLName.Local == "policy" {
			policies++
			if !strings.EqualFold(n.attr("key"), RegistryKey) || n.attr("class") != "Machine" {
				t.Errorf("policy %s: key %q class %q, want %s and Machine", n.attr("name"), n.attr("key"), n.attr("class"), RegistryKey)
			}
		}
		if v := n.attr("valueName"); v != "" {
			valueNames = append(valueNames, v)
		}
	})
	slices.Sort(valueNames)
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(valueNames, want) || policies != len(keys) {
		t.Errorf("%s: %d policies writing %q; want one per key: %q", admxFile, policies, valueNames, want)
	}
}

func TestWXSPolicyProperties(t *testing.T) {
	wxs := readXML(t, wxsFile)
	comps := map[string]string{} // value name -> component condition
	searched, refs, ids := map[string]bool{}, map[string]bool{}, map[string]string{}
	wxs.walk(func(n xmlNode) {
		switch n.XMLName.Local {
		case "Component":
			for _, c := range n.Nodes {
				if c.XMLName.Local == "RegistryValue" && strings.EqualFold(c.attr("Key"), RegistryKey) {
					name := c.attr("Name")
					prop := strings.ToUpper(name)
					if c.attr("Root") != "HKLM" || c.attr("Value") != "["+prop+"]" || c.attr("Type") != "string" {
						t.Errorf("%s: the value %s: Root %q Value %q Type %q, want HKLM, [%s], string", wxsFile, name, c.attr("Root"), c.attr("Value"), c.attr("Type"), prop)
					}
					comps[name] = n.attr("Condition")
					ids[name] = n.attr("Id")
				}
			}
		case "ComponentRef":
			refs[n.attr("Id")] = true
		case "RegistrySearch":
			if strings.EqualFold(n.attr("Key"), RegistryKey) {
				searched[n.attr("Name")] = true
			}
		}
	})
	for _, k := range keys {
		prop := strings.ToUpper(k)
		if cond, ok := comps[k]; !ok || cond != prop {
			t.Errorf("%s: no component writing %s only when %s is set (condition %q)", wxsFile, k, prop, cond)
		}
		if !refs[ids[k]] {
			t.Errorf("%s: the component of %s (%q) is in no feature", wxsFile, k, ids[k])
		}
		if !searched[k] {
			t.Errorf("%s: %s is not read back on repair or upgrade (no RegistrySearch)", wxsFile, k)
		}
	}
	if len(comps) != len(keys) {
		t.Errorf("%s writes %d policy values, want %d", wxsFile, len(comps), len(keys))
	}
}
