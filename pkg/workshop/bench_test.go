package workshop

import (
	"context"
	"testing"

	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

// BenchmarkEtcdReplication is E3's run time, cleanup included, on three
// real sshd + etcd stand-ins (scripts/bench-workshop.sh prints it).
func BenchmarkEtcdReplication(b *testing.B) {
	c := testnodes.Start(b, testnodes.Options{Nodes: 3})
	e := engine(b, c, nil)
	ex := builtIn(b, "etcd-replication")
	b.ResetTimer()
	for range b.N {
		if res := e.Run(context.Background(), ex); res.Status != health.Pass {
			b.Fatalf("%s: %+v", res.Status, res.Steps)
		}
	}
}

// BenchmarkEtcdCheck is `workshop check etcd-replication` on a fresh
// cluster (the first checkpoint reached, the second missing).
func BenchmarkEtcdCheck(b *testing.B) {
	c := testnodes.Start(b, testnodes.Options{Nodes: 3})
	e := engine(b, c, nil)
	ex := builtIn(b, "etcd-replication")
	b.ResetTimer()
	for range b.N {
		if reached, _ := e.Check(context.Background(), ex); reached != 1 {
			b.Fatalf("reached %d", reached)
		}
	}
}
