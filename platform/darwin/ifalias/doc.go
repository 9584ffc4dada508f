// Package ifalias lays out the macOS ioctl requests that add an address to
// an interface (SIOCAIFADDR with struct ifaliasreq, SIOCAIFADDR_IN6 with
// struct in6_aliasreq) and set its flags (SIOCSIFFLAGS with struct ifreq),
// as byte buffers. It is pure Go so the layouts are tested on any OS;
// package platform passes the buffers to ioctl(2) on macOS.
package ifalias
