package loadgen

import (
	"github.com/cvpn/cvpn/ovpn/server/pki"
)

// keyOpts uses ECDSA keys so that lab setup is fast.
func keyOpts() pki.Options { return pki.Options{KeyType: pki.ECDSAP256} }
