// Package connlog writes the reference server's connection log: one JSON
// object per line with the keys and value formats of AWS Client VPN
// connection logs (every value a string, times as "2006-01-02 15:04:05" UTC,
// unknown values "NA").
package connlog
