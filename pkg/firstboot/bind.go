package firstboot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// bindRetry is how often StartGuestNetwork tries the bind again.
const bindRetry = 500 * time.Millisecond

// StartFor starts the server where provider's guests reach it: on
// libvirt the gateway of the lab's network (StartGuestNetwork), else
// addr (VirtualBox NAT: 127.0.0.1).
func (s *Server) StartFor(ctx context.Context, addr netip.AddrPort, provider string, log io.Writer) error {
	if provider == "libvirt" {
		return s.StartGuestNetwork(ctx, addr, log)
	}
	return s.Start(ctx, addr)
}

// StartGuestNetwork starts the server on a libvirt network's gateway
// address. That address exists only once vagrant-libvirt has created the
// network, during the first `vagrant up`: until then it keeps trying in
// the background (bounded by ctx), and says on log what it waits for and
// when it listens. A port another program holds is an error at once, not
// a silent retry.
//
// Requests are taken only from the guest network: the gateway is an
// address of this host, so any local user can connect to it, but only
// from an address the host holds (the gateway itself, or another
// interface's) and never from a guest's.
func (s *Server) StartGuestNetwork(ctx context.Context, addr netip.AddrPort, log io.Writer) error {
	s.Allow(guestsOf(addr.Addr()))
	err := s.Start(ctx, addr)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%w: another program holds port %d; stop it or set first_boot.port", err, addr.Port())
	case !errors.Is(err, syscall.EADDRNOTAVAIL):
		return err
	}
	fmt.Fprintf(log, "first boot: waiting for %s to exist (vagrant-libvirt creates the network during the first vagrant up)\n", addr.Addr())
	go func() {
		t := time.NewTicker(bindRetry)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				s.closeFiles()
				return
			case <-t.C:
				err := s.Start(ctx, addr)
				switch {
				case err == nil:
					fmt.Fprintf(log, "first boot: listening on %s\n", addr)
					return
				case !errors.Is(err, syscall.EADDRNOTAVAIL):
					fmt.Fprintf(log, "first boot: cannot serve on %s: %v; nodes will not get their configs\n", addr, err)
					return
				}
			}
		}
	}()
	return nil
}

// guestsOf returns a filter admitting addresses of gw's network other
// than the host's own. The network is looked up when a request comes (the
// interface may not exist yet when the server is made).
func guestsOf(gw netip.Addr) func(netip.Addr) bool {
	return func(remote netip.Addr) bool {
		if remote == gw || remote.IsLoopback() {
			return false
		}
		p, ok := networkOf(gw)
		return ok && p.Contains(remote) && !hostHolds(remote)
	}
}

// networkOf finds the prefix of the interface address gw.
func networkOf(gw netip.Addr) (netip.Prefix, bool) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Prefix{}, false
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok || ip.Unmap() != gw {
			continue
		}
		ones, _ := ipn.Mask.Size()
		return netip.PrefixFrom(gw, ones).Masked(), true
	}
	return netip.Prefix{}, false
}

// hostHolds says whether a is an address of this host.
func hostHolds(a netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true
	}
	for _, x := range addrs {
		if ipn, ok := x.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Unmap() == a {
				return true
			}
		}
	}
	return false
}
