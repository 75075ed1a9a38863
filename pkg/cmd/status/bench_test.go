package status

import (
	"context"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	cexec "github.com/cododemo/cododemo/pkg/exec"
)

// BenchmarkStatusOverhead compares `cododemo status` (in-process, real
// vagrant underneath) with bare `vagrant status --machine-readable` on the
// same lab, interleaved, and reports both medians and the overhead:
//
//	go test ./pkg/cmd/status -run '^$' -bench StatusOverhead -benchtime 9x
func BenchmarkStatusOverhead(b *testing.B) {
	dir := writeLab(b, "provider: libvirt\nnodes:\n  count: 3\n", "Vagrantfile.multi")
	home := b.TempDir()
	env := map[string]string{"VAGRANT_HOME": home}
	var ours, bare []time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, _, err := runCLI(b, dir, cexec.OS{}, env); err != nil {
			b.Fatal(err)
		}
		ours = append(ours, time.Since(start))

		start = time.Now()
		c := exec.CommandContext(context.Background(), "vagrant", "status", "--machine-readable")
		c.Dir = filepath.Join(dir, ".cododemo")
		c.Env = append(c.Environ(), "VAGRANT_HOME="+home, "VAGRANT_CHECKPOINT_DISABLE=1",
			"VAGRANT_BOX_UPDATE_CHECK_DISABLE=1", "VAGRANT_DEFAULT_PROVIDER=libvirt")
		if out, err := c.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		bare = append(bare, time.Since(start))
	}
	mo, mb := median(ours), median(bare)
	b.ReportMetric(float64(mo.Milliseconds()), "cododemo-median-ms")
	b.ReportMetric(float64(mb.Milliseconds()), "vagrant-median-ms")
	b.ReportMetric(100*(float64(mo)-float64(mb))/float64(mb), "overhead-%")
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
