// Package credentials supplies user names, passwords and one-time codes to
// a VPN session: from an --auth-user-pass file (user, password, optional
// MFA code, one per line) or by asking on the terminal without echo.
package credentials
