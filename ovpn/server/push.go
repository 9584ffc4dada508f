package server

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/server/connlog"
)

// establish waits for PUSH_REQUEST, answers it and starts the data path.
func (ss *session) establish(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no PUSH_REQUEST: %w", ss.peerName(), ctx.Err())
		case msg := <-ss.msgs:
			if m, err := ctrlmsg.Parse(msg); err == nil {
				if _, ok := m.(ctrlmsg.PushRequest); ok {
					ss.srv.publish(ss)
					ss.established.Store(true)
					ss.srv.m.active.Add(1)
					ss.sendPush()
					ss.srv.writeLog(ss, connlog.StatusSuccessful, "", time.Time{})
					ss.log.Info("client connected", "ip", ss.ip.String(), "cn", ss.cn, "user", ss.username,
						"cipher", ss.cipher.String(), "ekm", ss.ekm, "framing", ss.framing.String())
					return nil
				}
				if _, ok := m.(ctrlmsg.Exit); ok {
					return errClientExit
				}
			}
		}
	}
}

func (ss *session) pushOptions() []string {
	c := ss.srv.cfg
	srvIP := ss.srv.pool.Server()
	mask := net.IP(net.CIDRMask(c.ClientPrefix.Bits(), 32)).String()
	o := []string{"route-gateway " + srvIP.String(), "topology subnet",
		fmt.Sprintf("ping %d", c.Ping), fmt.Sprintf("ping-restart %d", c.PingRestart)}
	if c.SplitTunnel {
		for _, r := range c.RoutePrefixes {
			o = append(o, fmt.Sprintf("route %s %s", r.Addr(), net.IP(net.CIDRMask(r.Bits(), 32))))
		}
	} else {
		o = append(o, "redirect-gateway def1")
	}
	o = append(o, dnsPushOptions(c, ss.pi.Proto())...)
	o = append(o, ctrlmsg.Extensions{Banner: c.LoginBanner, RouteEnforcement: c.ClientRouteEnforcement}.EchoOptions()...)
	o = append(o, fmt.Sprintf("ifconfig %s %s", ss.ip, mask))
	if ss.dataV2 {
		o = append(o, fmt.Sprintf("peer-id %d", ss.peerID))
	}
	o = append(o, "cipher "+ss.cipher.String())
	var pf []string
	switch {
	case ss.ccExit && ss.ekm:
		pf = append(pf, "cc-exit", "tls-ekm")
	case ss.ccExit:
		pf = append(pf, "cc-exit")
	case ss.ekm:
		o = append(o, "key-derivation tls-ekm")
	}
	if ss.dynTLS {
		pf = append(pf, "dyn-tls-crypt")
	}
	if ss.epoch {
		pf = append(pf, "aead-epoch")
	}
	if len(pf) > 0 {
		o = append(o, "protocol-flags "+strings.Join(pf, " "))
	}
	if ss.token != "" {
		o = append(o, "auth-token "+ss.token)
	}
	return o
}

func (ss *session) sendPush() {
	for _, m := range ss.push {
		ss.sendMessage(m)
	}
}

// occ is our options string; it mirrors the client's transport.
func (ss *session) occ(string) string {
	o := km2.OCC{Server: true, TCP: ss.tcp, Cipher: "AES-256-GCM", KeyBits: 256}
	if ss.cipher != datachannel.CipherNone {
		o.Cipher = ss.cipher.String()
		o.KeyBits = ss.cipher.KeySize() * 8
		if !ss.cipher.IsAEAD() {
			o.Auth = ss.auth.String()
		}
	}
	return o.String()
}
