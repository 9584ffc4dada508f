package nstest

import "testing"

func TestParseSNMP(t *testing.T) {
	dump := `Ip: Forwarding DefaultTTL InReceives FragOKs FragFails FragCreates
Ip: 1 64 1234 2 0 17
Icmp: InMsgs FragCreates
Icmp: 5 99
`
	got, err := parseSNMP(dump, "Ip", "FragCreates")
	if err != nil || got != 17 {
		t.Fatalf("FragCreates = %d, %v; want 17", got, err)
	}
	if got, err := parseSNMP(dump, "Icmp", "FragCreates"); err != nil || got != 99 {
		t.Fatalf("Icmp FragCreates = %d, %v; want 99", got, err)
	}
	if _, err := parseSNMP(dump, "Ip", "NoSuch"); err == nil {
		t.Fatal("a missing counter gave no error")
	}
}
