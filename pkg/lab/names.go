package lab

import (
	"fmt"
	"slices"
	"strings"
)

// CheckNames returns an *Error naming the names that are not among nodes
// (the lab's), and listing the nodes there are.
func CheckNames(names, nodes []string) error {
	var bad []string
	for _, n := range names {
		if !slices.Contains(nodes, n) {
			bad = append(bad, n)
		}
	}
	if len(bad) > 0 {
		return &Error{fmt.Errorf("%s: not a node of this lab (nodes: %s)", strings.Join(bad, ", "), strings.Join(nodes, ", "))}
	}
	return nil
}
