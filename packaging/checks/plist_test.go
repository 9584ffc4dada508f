package checks

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// parsePlist decodes an XML property list into Go values: dict ->
// map[string]any, array -> []any, string, int64, bool, float64. It rejects
// anything outside the plist DTD's elements, a dict key without a value,
// and trailing content, so a malformed plist fails the test.
func parsePlist(path string) (any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d := xml.NewDecoder(f)
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: no <plist> element: %w", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "plist" {
				return nil, fmt.Errorf("%s: root element <%s>, want <plist>", path, se.Name.Local)
			}
			break
		}
	}
	v, end, err := plistValue(d)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if end {
		return nil, fmt.Errorf("%s: empty <plist>", path)
	}
	if _, end, err := plistValue(d); err != nil || !end {
		return nil, fmt.Errorf("%s: more than one value in <plist> (%v)", path, err)
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return v, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return nil, fmt.Errorf("%s: text after </plist>", path)
			}
		case xml.Comment, xml.ProcInst:
		default:
			return nil, fmt.Errorf("%s: content after </plist>", path)
		}
	}
}

// plistValue reads the next value; end reports the parent's end element.
func plistValue(d *xml.Decoder) (v any, end bool, err error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, false, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil, true, nil
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return nil, false, fmt.Errorf("stray text %q", strings.TrimSpace(string(t)))
			}
		case xml.StartElement:
			line, _ := d.InputPos()
			v, err := plistElement(d, t)
			if err != nil {
				return nil, false, fmt.Errorf("line %d: <%s>: %w", line, t.Name.Local, err)
			}
			return v, false, nil
		}
	}
}

func plistElement(d *xml.Decoder, se xml.StartElement) (any, error) {
	text := func() (string, error) {
		var s string
		err := d.DecodeElement(&s, &se)
		return s, err
	}
	switch se.Name.Local {
	case "dict":
		m := map[string]any{}
		for {
			k, end, err := plistValue(d)
			if err != nil {
				return nil, err
			}
			if end {
				return m, nil
			}
			key, ok := k.(plistKey)
			if !ok {
				return nil, fmt.Errorf("value %v where a <key> is expected", k)
			}
			val, end, err := plistValue(d)
			if err != nil {
				return nil, err
			}
			if end {
				return nil, fmt.Errorf("key %q has no value", key)
			}
			if _, ok := val.(plistKey); ok {
				return nil, fmt.Errorf("key %q is followed by another key", key)
			}
			if _, dup := m[string(key)]; dup {
				return nil, fmt.Errorf("key %q appears twice", key)
			}
			m[string(key)] = val
		}
	case "array":
		var a []any
		for {
			v, end, err := plistValue(d)
			if err != nil {
				return nil, err
			}
			if end {
				return a, nil
			}
			a = append(a, v)
		}
	case "key":
		s, err := text()
		return plistKey(s), err
	case "string", "date", "data":
		return text()
	case "integer":
		s, err := text()
		if err != nil {
			return nil, err
		}
		return strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	case "real":
		s, err := text()
		if err != nil {
			return nil, err
		}
		return strconv.ParseFloat(strings.TrimSpace(s), 64)
	case "true", "false":
		if err := d.Skip(); err != nil {
			return nil, err
		}
		return se.Name.Local == "true", nil
	}
	return nil, fmt.Errorf("not a plist element")
}

type plistKey string
