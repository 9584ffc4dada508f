package hostile

import "time"

// Scenario says how the server misbehaves.
type Scenario struct {
	// Name identifies the scenario in logs.
	Name string
	// ExtraPush is appended to the base pushed options.
	ExtraPush []string
	// Replies, when set, builds the PUSH_REPLY messages (each a complete
	// "PUSH_REPLY,..." string) from the base options instead of
	// ctrlmsg.BuildPushReplies.
	Replies func(base []string) []string
	// EndlessContinuation answers PUSH_REQUEST with parts that all say
	// "push-continuation 2", until the client stops reading or MaxEndless
	// parts were sent.
	EndlessContinuation bool
	// SoftResetEvery, when positive, starts a renegotiation (SOFT_RESET_V1)
	// this often once the client has its configuration, abandoning the
	// previous one if it has not finished.
	SoftResetEvery time.Duration
}

// MaxEndless bounds the parts an EndlessContinuation scenario sends per
// PUSH_REQUEST.
const MaxEndless = 10000
