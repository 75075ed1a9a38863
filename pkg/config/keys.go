package config

import (
	"reflect"
	"strings"
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
			name := f.Tag.Get("mapstructure")
			if name == "" {
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

// EnvName is the environment variable that sets key.
func EnvName(key string) string {
	return "CODODEMO_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// defaultsMap returns Default() as viper defaults, key by key.
func defaultsMap(keys []keyInfo) map[string]any {
	d := reflect.ValueOf(Default())
	m := make(map[string]any, len(keys))
	for _, k := range keys {
		m[k.Key] = d.FieldByIndex(k.Path).Interface()
	}
	return m
}
