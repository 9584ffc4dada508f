// Package guitest is an in-memory gui.Backend for tests, screenshots
// and demos: real profiles in a profilestore, and connections whose states,
// traffic, banners and credential requests are scripted by the caller.
package guitest
