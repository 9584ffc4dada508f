// Package faultnet is a userspace network impairment proxy for tests on
// machines without `tc netem`: it relays UDP datagrams or a TCP byte
// stream between a listening address and a target, and applies loss,
// delay, jitter, duplication, reordering and an on/off blackhole per
// direction.
//
// Decisions (which packet is lost, how much jitter it gets) come from a
// seeded PRNG per direction, so the same seed and the same packet sequence
// give the same decisions. Queues are bounded (Config.MaxQueue packets per
// direction; beyond that packets are counted as overflow and dropped).
//
// A TCP relay cannot lose bytes without breaking the stream; it models a
// lost segment as a retransmission stall (Impairment.LossPenalty, the
// time a sender's retransmission timer would add) and keeps byte order.
// Duplication and reordering apply to UDP only.
//
// To run inside a network namespace, create the proxy from a thread in that
// namespace (for example inside nstest.InNS): its listening socket stays in
// that namespace. Outbound sockets to the target are opened with
// Config.Dial, which must do the same (the default dials from the calling
// goroutine's namespace, which after InNS returns is the host's).
//
// Every proxy owns its goroutines; Close stops them and waits for them.
package faultnet
