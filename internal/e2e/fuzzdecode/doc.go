// Package fuzzdecode holds fuzz targets for decoders of outside input that
// have none beside their own code: CRV1/SCRV1 strings, the TCP frame
// reader, peer_info and OCC option strings (what a server reads from a
// client), data channel compression framing, pull-filter rules and the
// pushed-option word splitter. It has no non-test code besides this
// comment; the targets are in fuzz_test.go and run with `make fuzz`.
package fuzzdecode
