package server

// Device is the server's packet device: a TUN device (golang.zx2c4.com/
// wireguard/tun.Device satisfies it) or, for load tests, anything that moves
// IP packets. Read and Write use an offset of DeviceOffset bytes in front of
// each packet.
type Device interface {
	Read(bufs [][]byte, sizes []int, offset int) (int, error)
	Write(bufs [][]byte, offset int) (int, error)
	BatchSize() int
	Close() error
}

// DeviceOffset is the headroom kept in front of packets (the Linux TUN
// device's virtio header needs at least 10 bytes).
const DeviceOffset = 16
