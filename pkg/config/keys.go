package config

import (
	"reflect"
	"strconv"
	"strings"

	"github.com/cododemo/cododemo/pkg/yamlfile"
)

// keyInfo describes one scalar setting reachable by a dotted key.
type keyInfo struct {
	Key  string       // "nodes.count"
	Kind reflect.Kind // of the Go field
	Path []int        // field index path into Lab
}

// scalarKeys lists every scalar key of Lab (lists such as forwarded_ports
// are file-only), in declaration order. It is derived from the struct tags so
// that a new field is reachable from env and flags without more code.
func scalarKeys() []keyInfo {
	var out []keyInfo
	var walk func(t reflect.Type, prefix string, path []int)
	walk = func(t reflect.Type, prefix string, path []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			p := append(append([]int(nil), path...), i)
			switch f.Type.Kind() {
			case reflect.Struct:
				walk(f.Type, prefix+name+".", p)
			case reflect.Slice, reflect.Map:
				// file-only
			default:
				out = append(out, keyInfo{Key: prefix + name, Kind: f.Type.Kind(), Path: p})
			}
		}
	}
	walk(reflect.TypeOf(Lab{}), "", nil)
	return out
}

// set parses raw as the key's type, with the file's words for a bad value,
// and stores it in lab.
func (k keyInfo) set(lab *Lab, raw string) error {
	f := reflect.ValueOf(lab).Elem().FieldByIndex(k.Path)
	switch k.Kind {
	case reflect.Int:
		i, err := yamlfile.ParseInt(raw, strconv.IntSize)
		if err != nil {
			return err
		}
		f.SetInt(i)
	case reflect.Bool:
		b, err := yamlfile.ParseBool(raw)
		if err != nil {
			return err
		}
		f.SetBool(b)
	case reflect.String:
		f.SetString(raw)
	default:
		panic("config: no parser for " + k.Key)
	}
	return nil
}

// EnvName is the environment variable that sets key.
func EnvName(key string) string {
	return "CODODEMO_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}
