package health

import (
	"context"
	"sync"
	"time"

	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/sshx"
)

// Defaults of the verify flags, and of `up`'s verify step.
const (
	DefaultTimeout        = 15 * time.Second // each check
	DefaultConnectTimeout = 10 * time.Second // each SSH connect and login
	DefaultParallel       = 16               // nodes worked on at once
)

// Dial connects and logs in to n: base holds what every node shares (host
// keys, agent, timeout), the inventory n's user and key. It is the one way
// cododemo dials a node of an inventory (verify, ssh, exec, logs).
func Dial(ctx context.Context, base sshx.Config, n inventory.Node) (*sshx.Client, error) {
	cfg := base
	cfg.User = n.SSH.User
	cfg.IdentityFile = n.SSH.IdentityFile
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultConnectTimeout
	}
	return sshx.Dial(ctx, n.Name, n.SSH.Addr(), cfg)
}

// SSHConnector dials nodes with pkg/sshx and remembers the connections so
// they can be closed after the report.
type SSHConnector struct {
	// Base holds the settings shared by every node (host keys, agent,
	// timeout); user and identity file come from the inventory.
	Base sshx.Config

	mu      sync.Mutex
	clients []*sshx.Client
}

// Connect dials n.
func (c *SSHConnector) Connect(ctx context.Context, n inventory.Node) (Session, error) {
	cl, err := Dial(ctx, c.Base, n)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.clients = append(c.clients, cl)
	c.mu.Unlock()
	return cl, nil
}

// Close closes every connection made.
func (c *SSHConnector) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.clients {
		_ = cl.Close()
	}
	c.clients = nil
}
