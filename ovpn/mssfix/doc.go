// Package mssfix clamps the MSS option of TCP SYNs that cross the tunnel,
// as OpenVPN's --mssfix does, so that full-size segments still fit the
// outer path once encrypted and encapsulated (no IP fragmentation). The
// client and the reference server both clamp, in both directions.
package mssfix
