package testnodes

import (
	"os"
	"path/filepath"
)

// The stand-ins answer the few systemctl and journalctl forms the health
// checks use, from state files under $CODODEMO_ROOT/run/cododemo. Their
// output mimics systemd's (is-system-running prints the state and exits
// non-zero unless running; is-active prints one state per unit, nothing with
// --quiet, and exits 3 when one is not active; list-units --failed --plain --no-legend prints
// "UNIT LOAD ACTIVE SUB DESCRIPTION" rows).
const systemctlStandIn = `#!/bin/sh
# testnodes stand-in for systemctl (this machine has no systemd).
st="$CODODEMO_ROOT/run/cododemo"
case "$1" in
is-system-running)
	s=$(cat "$st/system-state"); echo "$s"; [ "$s" = running ] ;;
is-active)
	shift; rc=0; quiet=""
	for u in "$@"; do
		case "$u" in --quiet|-q) quiet=1; continue ;; -*) continue ;; *.*) ;; *) u="$u.service" ;; esac
		s=$(cat "$st/units/$u" 2>/dev/null || echo inactive); [ -n "$quiet" ] || echo "$s"
		[ "$s" = active ] || rc=3
	done
	exit $rc ;;
list-units)
	for f in "$st"/units/*; do
		[ "$(cat "$f")" = failed ] && printf '%s loaded failed failed %s\n' "$(basename "$f")" "Stand-in unit $(basename "$f")"
	done
	exit 0 ;;
*)
	echo "systemctl stand-in: unsupported: $*" >&2; exit 1 ;;
esac
`

const journalctlStandIn = `#!/bin/sh
# testnodes stand-in for journalctl: prints $CODODEMO_ROOT/run/cododemo/journal/<unit>.
unit=""; n=10
while [ $# -gt 0 ]; do
	case "$1" in
	-u) unit="$2"; shift ;;
	-n) n="$2"; shift ;;
	esac
	shift
done
f="$CODODEMO_ROOT/run/cododemo/journal/$unit"
[ -f "$f" ] && tail -n "$n" "$f"
exit 0
`

func writeStandIns(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, body := range map[string]string{"systemctl": systemctlStandIn, "journalctl": journalctlStandIn} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			return err
		}
	}
	return nil
}
