package credentials

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// File holds credentials read from an --auth-user-pass file.
type File struct {
	User, Pass, Code string
	path             string
	fallback         *Terminal
}

// ReadFile reads FILE: line 1 user, line 2 password, optional line 3 the MFA
// code. CRLF line ends are accepted. When a value is missing and a terminal
// is available, fallback asks for it.
func ReadFile(path string, fallback *Terminal) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth-user-pass file: %w", err)
	}
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	f := &File{path: path, fallback: fallback}
	if len(lines) > 0 {
		f.User = strings.TrimSpace(lines[0])
	}
	if len(lines) > 1 {
		f.Pass = strings.TrimRight(lines[1], "\r")
	}
	if len(lines) > 2 {
		f.Code = strings.TrimSpace(lines[2])
	}
	if f.User == "" {
		return nil, fmt.Errorf("%s:1: the first line must be the user name", path)
	}
	return f, nil
}

// UserPass returns the file's user and password. Asked again after a
// refusal, it fails: the file cannot change its answer.
func (f *File) UserPass(ctx context.Context, reason string) (string, string, error) {
	if reason != "" {
		return "", "", fmt.Errorf("%s: %s", f.path, reason)
	}
	if f.Pass == "" {
		if f.fallback == nil {
			return "", "", fmt.Errorf("%s:2: the second line must be the password", f.path)
		}
		_, pass, err := f.fallback.ask(ctx, "", "Password for "+f.User+": ", false)
		return f.User, pass, err
	}
	return f.User, f.Pass, nil
}

// Challenge returns line 3 of the file, or asks the terminal.
func (f *File) Challenge(ctx context.Context, text string, echo bool) (string, error) {
	if f.Code != "" {
		code := f.Code
		f.Code = "" // a one-time code is used once
		return code, nil
	}
	if f.fallback == nil {
		return "", fmt.Errorf("%s:3: the server asks %q and the file has no third line with the code", f.path, strings.TrimSpace(text))
	}
	_, code, err := f.fallback.ask(ctx, "", text, echo)
	return code, err
}

// Terminal asks on the controlling terminal.
type Terminal struct {
	In  *os.File
	Out io.Writer
}

// NewTerminal returns a prompt on stdin/stderr, or nil when stdin is not a
// terminal.
func NewTerminal() *Terminal {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil
	}
	return &Terminal{In: os.Stdin, Out: os.Stderr}
}

// ErrNoTerminal: credentials are needed and there is no terminal to ask.
var ErrNoTerminal = errors.New("credentials are needed but there is no terminal to ask: use --auth-user-pass FILE")

// UserPass asks for the user name and password.
func (t *Terminal) UserPass(ctx context.Context, reason string) (string, string, error) {
	if t == nil {
		return "", "", ErrNoTerminal
	}
	if reason != "" {
		fmt.Fprintln(t.Out, reason)
	}
	user, _, err := t.ask(ctx, "Username: ", "", true)
	if err != nil {
		return "", "", err
	}
	_, pass, err := t.ask(ctx, "", "Password: ", false)
	return user, pass, err
}

// Challenge asks for a one-time code.
func (t *Terminal) Challenge(ctx context.Context, text string, echo bool) (string, error) {
	if t == nil {
		return "", ErrNoTerminal
	}
	_, code, err := t.ask(ctx, "", strings.TrimRight(text, " ")+" ", echo)
	return code, err
}

// ask reads one line: shown (prompt != "") or hidden (hiddenPrompt).
func (t *Terminal) ask(_ context.Context, prompt, hiddenPrompt string, echo bool) (string, string, error) {
	if t == nil {
		return "", "", ErrNoTerminal
	}
	if prompt != "" || echo {
		p := prompt
		if p == "" {
			p = hiddenPrompt
		}
		fmt.Fprint(t.Out, p)
		line, err := bufio.NewReader(t.In).ReadString('\n')
		if err != nil && line == "" {
			return "", "", fmt.Errorf("reading from the terminal: %w", err)
		}
		v := strings.TrimRight(line, "\r\n")
		return v, v, nil
	}
	fmt.Fprint(t.Out, hiddenPrompt)
	b, err := term.ReadPassword(int(t.In.Fd()))
	fmt.Fprintln(t.Out)
	if err != nil {
		return "", "", fmt.Errorf("reading from the terminal: %w", err)
	}
	return "", string(b), nil
}
