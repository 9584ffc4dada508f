// Package vnettun moves packets through a Linux TUN device opened with
// IFF_VNET_HDR, without the Go runtime's system-call bookkeeping.
//
// Every read and write of the device is a raw read(2) or write(2) made
// inside the file's RawConn callbacks (the device is non-blocking, so
// waiting is left to the runtime's poller). A normal system call wakes the
// runtime's monitor thread whenever the process was idle; with packets a
// few tens of microseconds apart, as from an OpenVPN peer that sends one
// packet per datagram, that costs several extra context switches per
// packet. Raw calls keep it asleep.
//
// The kernel's offloads stay on: a read may return a TCP (or UDP) super-
// packet of up to 64 KiB with a virtio-net header, which Split cuts into
// MTU-sized packets with correct lengths, sequence numbers and checksums;
// a write coalesces consecutive segments of one TCP stream into one
// super-packet (Coalescer), so the kernel's TCP stack handles them once.
// Split, Coalescer and the checksum helpers are plain functions on byte
// slices and are tested on every OS; the device itself is Linux only.
package vnettun
