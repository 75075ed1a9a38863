package workshop

import (
	"testing"

	"github.com/cododemo/cododemo/pkg/inventory"
)

// The built-in cleanups that remove the exercises' containers render to
// the shell they ran as literal text before settleUnits (the two closing
// listings swapped): remove, wait until the units stop, reset them, list
// what is still failed, then the containers left.
func TestCleanupsSettleUnits(t *testing.T) {
	set, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	cl := NewCluster(&inventory.Inventory{Nodes: []inventory.Node{{Name: "core-01", Address: "10.0.0.11"}}})
	const both = "for _ in 1 2 3 4 5 6 7 8 9 10; do systemctl is-active --quiet 'web@*.service' lb.service || break; sleep 1; done; " +
		"sudo systemctl reset-failed 'web@*.service' lb.service 2>/dev/null; " +
		"systemctl list-units --failed --plain --no-legend 'web@*.service' lb.service"
	const web = "for _ in 1 2 3 4 5 6 7 8 9 10; do systemctl is-active --quiet 'web@*.service' || break; sleep 1; done; " +
		"sudo systemctl reset-failed 'web@*.service' 2>/dev/null; " +
		"systemctl list-units --failed --plain --no-legend 'web@*.service'"
	want := map[string]string{
		"failover": "docker ps -a --quiet --filter name=^web- --filter name=^lb$ | xargs -r docker rm -f >/dev/null; " + both +
			"; docker ps -a --quiet --filter name=^web- --filter name=^lb$",
		"fleet-web": "docker ps -a --quiet --filter name=^web- | xargs -r docker rm -f >/dev/null; " + web +
			"; docker ps -a --quiet --filter name=^web-",
		"load-balancer": "docker ps -a --quiet --filter name=^web- --filter name=^lb$ | xargs -r docker rm -f >/dev/null; " + both +
			"; docker ps -a --quiet --filter name=^web- --filter name=^lb$",
		"unit-journal":      "docker rm -f web-8081 >/dev/null 2>&1; " + web + "; docker ps -a --quiet --filter name=^web-8081$",
		"destroy-and-start": "docker rm -f web-8081 lb >/dev/null 2>&1; " + both + "; docker ps -a --quiet --filter name=^web-8081$ --filter name=^lb$",
	}
	for id, w := range want {
		ex := set.Get(id)
		if ex == nil {
			t.Fatalf("no exercise %q (have %v)", id, set.IDs())
		}
		found := false
		for _, s := range ex.Cleanup {
			if s.Name != "no containers left" {
				continue
			}
			found = true
			got, err := cl.render(ex, newState(), cl.Nodes[0], s.Run)
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			if got != w {
				t.Errorf("%s:\n got %s\nwant %s", id, got, w)
			}
		}
		if !found {
			t.Errorf("%s: no cleanup step %q", id, "no containers left")
		}
	}
}
