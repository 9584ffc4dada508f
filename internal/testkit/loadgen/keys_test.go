package loadgen

import "github.com/cvpn/cvpn/internal/testkit/labpki"

// keyOpts uses ECDSA keys so that lab setup is fast.
func keyOpts() labpki.Options { return labpki.Options{KeyType: labpki.ECDSAP256} }
