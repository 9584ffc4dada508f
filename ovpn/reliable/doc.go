// Package reliable is OpenVPN's control-channel reliability layer for one
// key_id: packet ids from 0, a send window of 6 and a receive window of 12
// packets, individual (non-cumulative) ACKs, retransmission with a doubling
// timeout (the first one from a round-trip estimate, RTT, when the caller
// keeps one) and fast retransmit after three later packets were
// acknowledged, and strictly in-order delivery.
//
// It is pure logic driven by the caller's clock: no goroutines, no timers.
// The caller queues payloads with Send, feeds decoded packets to Receive,
// takes packets to transmit from Pending, ACK ids from Acks, in-order
// payloads from Next, and sleeps until NextTimeout.
package reliable
