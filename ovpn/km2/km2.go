package km2

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cvpn/cvpn/ovpn/keys"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// Framing is the wire framing of a key method 2 message.
type Framing int

const (
	// Standard is stock OpenVPN: leading u32 zero, u16 string lengths.
	Standard Framing = iota
	// AWS is the AWS Client VPN framing: leading u32 little-endian total
	// message length, u32 big-endian string lengths.
	AWS
)

func (f Framing) String() string {
	if f == AWS {
		return "aws"
	}
	return "standard"
}

// KeyMethod2 is the key method byte.
const KeyMethod2 = 2

// Send-side limits (what a stock peer accepts) and receive-side caps.
const (
	// MaxOptionsStandard is the stock TLS_OPTIONS_LEN (including NUL).
	MaxOptionsStandard = 512
	// MaxUserPassStandard is the stock USER_PASS_LEN (including NUL), so
	// usernames and passwords must be shorter than 128 bytes.
	MaxUserPassStandard = 128
	// MaxUserPassAWS is the AWS credential limit (128 KiB, including NUL).
	MaxUserPassAWS = 128 << 10
	// MaxOptionsRecv caps a received options string.
	MaxOptionsRecv = 16 << 10
	// MaxPeerInfoRecv caps a received peer_info block.
	MaxPeerInfoRecv = 64 << 10
	// MaxMessageAWS caps the total length of an AWS framed message.
	MaxMessageAWS = 3*MaxUserPassAWS + MaxOptionsRecv + MaxPeerInfoRecv
)

// Message is one key method 2 message. A client message carries PreMaster;
// a server message does not and has empty Username, Password and PeerInfo.
type Message struct {
	Framing   Framing
	Sender    wire.Role
	PreMaster [keys.PreMasterSize]byte // client only
	Random1   [keys.RandomSize]byte
	Random2   [keys.RandomSize]byte
	Options   string
	Username  string
	Password  string
	PeerInfo  string
}

// String describes the message without secrets.
func (m *Message) String() string {
	return fmt.Sprintf("km2{%s framing, from %s, options %q, username %q, password %d bytes, peer_info %d bytes}",
		m.Framing, m.Sender, m.Options, m.Username, len(m.Password), len(m.PeerInfo))
}

// Zero wipes the secrets of the message (the Go strings themselves are
// immutable; drop references to them).
func (m *Message) Zero() {
	keys.Zeroize(m.PreMaster[:])
	keys.Zeroize(m.Random1[:])
	keys.Zeroize(m.Random2[:])
	m.Password = ""
}

// ErrTruncated is wrapped by errors for messages that end early.
var ErrTruncated = errors.New("km2: message truncated")

type field struct {
	name string
	val  string
	max  int // including NUL
}

func (m *Message) fields() []field {
	up := MaxUserPassStandard
	if m.Framing == AWS {
		up = MaxUserPassAWS
	}
	return []field{
		{"options", m.Options, MaxOptionsStandard},
		{"username", m.Username, up},
		{"password", m.Password, up},
		{"peer_info", m.PeerInfo, 0xFFFF},
	}
}

// AppendBinary appends the encoded message to b.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, 0, 0, 0, 0, KeyMethod2)
	if m.Sender == wire.RoleClient {
		b = append(b, m.PreMaster[:]...)
	}
	b = append(b, m.Random1[:]...)
	b = append(b, m.Random2[:]...)
	for _, f := range m.fields() {
		if m.Framing == AWS && f.name == "peer_info" {
			f.max = MaxPeerInfoRecv
		}
		if len(f.val) > 0 && len(f.val)+1 > f.max {
			return b[:start], fmt.Errorf("km2: %s is %d bytes, the %s framing allows at most %d", f.name, len(f.val), m.Framing, f.max-1)
		}
		for i := 0; i < len(f.val); i++ {
			if f.val[i] == 0 {
				return b[:start], fmt.Errorf("km2: %s contains a NUL byte at offset %d", f.name, i)
			}
		}
		n := 0
		if len(f.val) > 0 {
			n = len(f.val) + 1
		}
		if m.Framing == AWS {
			b = binary.BigEndian.AppendUint32(b, uint32(n))
		} else {
			b = binary.BigEndian.AppendUint16(b, uint16(n))
		}
		if n > 0 {
			b = append(b, f.val...)
			b = append(b, 0)
		}
	}
	if m.Framing == AWS {
		binary.LittleEndian.PutUint32(b[start:], uint32(len(b)-start))
	}
	return b, nil
}

// MarshalBinary encodes the message.
func (m *Message) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// WriteTo writes the whole message with a single Write call, so that over
// crypto/tls (with DynamicRecordSizingDisabled) it travels as one record
// when it fits, as OpenVPN expects.
func (m *Message) WriteTo(w io.Writer) (int64, error) {
	b, err := m.MarshalBinary()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	keys.Zeroize(b)
	if err != nil {
		return int64(n), fmt.Errorf("km2: writing message: %w", err)
	}
	return int64(n), nil
}

// DetectFraming tells the framings apart from the first four bytes.
func DetectFraming(first4 []byte) Framing {
	if len(first4) >= 4 && binary.LittleEndian.Uint32(first4) != 0 {
		return AWS
	}
	return Standard
}

// errNeedMore signals that the buffer ends before the message does.
var errNeedMore = errors.New("need more")

// parse decodes a message from b. In the standard framing the trailing
// peer_info is optional; complete reports that b held every required field.
func parse(b []byte, sender wire.Role) (*Message, int, error) {
	if len(b) < 5 {
		return nil, 0, errNeedMore
	}
	m := &Message{Sender: sender, Framing: DetectFraming(b)}
	if b[4]&0x0F != KeyMethod2 {
		return nil, 0, fmt.Errorf("km2: key method %d in %s message, only key method 2 is supported", b[4]&0x0F, sender)
	}
	off := 5
	take := func(dst []byte) bool {
		if len(b)-off < len(dst) {
			return false
		}
		copy(dst, b[off:])
		off += len(dst)
		return true
	}
	if sender == wire.RoleClient && !take(m.PreMaster[:]) {
		return nil, 0, errNeedMore
	}
	if !take(m.Random1[:]) || !take(m.Random2[:]) {
		return nil, 0, errNeedMore
	}
	lenSize := 2
	if m.Framing == AWS {
		lenSize = 4
	}
	caps := []struct {
		name string
		max  int
		dst  *string
	}{
		{"options", MaxOptionsRecv, &m.Options},
		{"username", MaxUserPassAWS, &m.Username},
		{"password", MaxUserPassAWS, &m.Password},
		{"peer_info", MaxPeerInfoRecv, &m.PeerInfo},
	}
	for i, c := range caps {
		if i == 3 && off == len(b) {
			break // peer_info is optional
		}
		if len(b)-off < lenSize {
			return nil, 0, errNeedMore
		}
		var n int
		if lenSize == 2 {
			n = int(binary.BigEndian.Uint16(b[off:]))
		} else {
			n = int(binary.BigEndian.Uint32(b[off:]))
		}
		if n > c.max {
			return nil, 0, fmt.Errorf("km2: %s in %s message is %d bytes, limit %d", c.name, sender, n, c.max)
		}
		off += lenSize
		if len(b)-off < n {
			return nil, 0, errNeedMore
		}
		if n > 0 {
			s := b[off : off+n]
			if s[n-1] != 0 {
				return nil, 0, fmt.Errorf("km2: %s in %s message is not NUL-terminated", c.name, sender)
			}
			*c.dst = string(s[:n-1])
		}
		off += n
	}
	return m, off, nil
}

// Unmarshal decodes one complete message sent by sender.
func Unmarshal(b []byte, sender wire.Role) (*Message, error) {
	m, n, err := parse(b, sender)
	if err == errNeedMore {
		return nil, fmt.Errorf("%w: %d bytes is not a whole %s message", ErrTruncated, len(b), sender)
	}
	if err != nil {
		return nil, err
	}
	if m.Framing == AWS {
		if total := int(binary.LittleEndian.Uint32(b)); total != n {
			return nil, fmt.Errorf("km2: AWS length prefix says %d bytes, fields take %d", total, n)
		}
	}
	if n != len(b) {
		return nil, fmt.Errorf("km2: %d unexpected bytes after the %s message", len(b)-n, sender)
	}
	return m, nil
}

// Read reads one message sent by sender from r, typically a *tls.Conn.
// AWS framed messages are read exactly by their length prefix and may span
// many TLS records. A standard framed message has no length: Read relies on
// each Read call of r returning whole TLS records (true for *tls.Conn), so
// the message, including its optional peer_info, must arrive in the reads
// that complete its required fields.
func Read(r io.Reader, sender wire.Role) (*Message, error) {
	head := make([]byte, 4)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, fmt.Errorf("km2: reading %s message: %w", sender, readErr(err))
	}
	if DetectFraming(head) == AWS {
		total := int(binary.LittleEndian.Uint32(head))
		if total < 5 || total > MaxMessageAWS {
			return nil, fmt.Errorf("km2: AWS framed %s message claims %d bytes (limit %d)", sender, total, MaxMessageAWS)
		}
		b := make([]byte, total)
		copy(b, head)
		if _, err := io.ReadFull(r, b[4:]); err != nil {
			return nil, fmt.Errorf("km2: reading %d-byte AWS framed %s message: %w", total, sender, readErr(err))
		}
		defer keys.Zeroize(b)
		return Unmarshal(b, sender)
	}
	buf := make([]byte, 4, 2048)
	copy(buf, head)
	defer func() { keys.Zeroize(buf[:cap(buf)]) }()
	for {
		m, n, err := parse(buf, sender)
		if err == nil && n == len(buf) {
			return m, nil
		}
		if err == nil {
			return nil, fmt.Errorf("km2: %d unexpected bytes after the %s message", len(buf)-n, sender)
		}
		if err != errNeedMore {
			return nil, err
		}
		if len(buf) > 5+48+64+3*0x10001+MaxPeerInfoRecv {
			return nil, fmt.Errorf("km2: standard framed %s message exceeds %d bytes", sender, len(buf))
		}
		if cap(buf)-len(buf) < 1024 {
			nb := make([]byte, len(buf), 2*cap(buf))
			copy(nb, buf)
			keys.Zeroize(buf)
			buf = nb
		}
		k, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err != nil && k == 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("km2: reading %s message: %w", sender, readErr(err))
		}
	}
}

func readErr(err error) error {
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return fmt.Errorf("%w (%v)", ErrTruncated, err)
	}
	return err
}
