package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

const exeSuffix = ".exe"

// osSocket returns a folder every user may read (under %PUBLIC%) and a
// named pipe of this test.
func osSocket(t *testing.T) (dir, path string) {
	t.Helper()
	pub := os.Getenv("PUBLIC")
	if pub == "" {
		pub = `C:\Users\Public`
	}
	dir, err := os.MkdirTemp(pub, "cvpn-ostest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir, fmt.Sprintf(`\\.\pipe\cvpn-ostest-%d`, os.Getpid())
}

var procCreateProcessWithLogonW = windows.NewLazySystemDLL("advapi32.dll").NewProc("CreateProcessWithLogonW")

const logonWithProfile = 0x1

// runAsOther runs exe as the unprivileged local user named by
// CVPN_OS_TEST_USER (password CVPN_OS_TEST_PASSWORD; CI creates it) and
// returns its exit code. Its output stays in its own console.
func runAsOther(t *testing.T, dir, exe string, args ...string) (int, string) {
	t.Helper()
	name, pass := os.Getenv("CVPN_OS_TEST_USER"), os.Getenv("CVPN_OS_TEST_PASSWORD")
	if name == "" || pass == "" {
		t.Skip("skipped the unprivileged half of TestOSDaemonIPCRefusesOtherUser: set CVPN_OS_TEST_USER and CVPN_OS_TEST_PASSWORD to a local non-administrator account")
	}
	u16 := func(s string) *uint16 {
		p, err := windows.UTF16PtrFromString(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cmdline := windows.ComposeCommandLine(append([]string{exe}, args...))
	si := windows.StartupInfo{Cb: uint32(unsafe.Sizeof(windows.StartupInfo{}))}
	var pi windows.ProcessInformation
	r, _, err := procCreateProcessWithLogonW.Call(
		uintptr(unsafe.Pointer(u16(name))), uintptr(unsafe.Pointer(u16("."))), uintptr(unsafe.Pointer(u16(pass))),
		logonWithProfile, uintptr(unsafe.Pointer(u16(exe))), uintptr(unsafe.Pointer(u16(cmdline))),
		windows.CREATE_NO_WINDOW|windows.CREATE_UNICODE_ENVIRONMENT, 0, uintptr(unsafe.Pointer(u16(filepath.Clean(dir)))),
		uintptr(unsafe.Pointer(&si)), uintptr(unsafe.Pointer(&pi)))
	if r == 0 {
		t.Fatalf("CreateProcessWithLogonW as %s: %v", name, err)
	}
	defer windows.CloseHandle(pi.Thread)
	defer windows.CloseHandle(pi.Process)
	ev, err := windows.WaitForSingleObject(pi.Process, 60_000)
	if err != nil || ev != windows.WAIT_OBJECT_0 {
		windows.TerminateProcess(pi.Process, 1)
		t.Fatalf("helper as %s did not end within 60s: %v", name, err)
	}
	var code uint32
	if err := windows.GetExitCodeProcess(pi.Process, &code); err != nil {
		t.Fatal(err)
	}
	return int(code), ""
}

// squatRefused checks the pipe's ACL from the unprivileged side: creating
// another server instance of the daemon's pipe (to receive the next front
// end's requests) needs FILE_CREATE_PIPE_INSTANCE, which authenticated
// users lack, so it must fail with ERROR_ACCESS_DENIED.
func squatRefused(path string) int {
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		fmt.Println(err)
		return helperFailed
	}
	h, err := windows.CreateNamedPipe(name, windows.PIPE_ACCESS_DUPLEX, windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE,
		windows.PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, nil)
	if err == nil {
		windows.CloseHandle(h)
		fmt.Println("created an instance of", path)
		return helperSquat
	}
	if err != windows.ERROR_ACCESS_DENIED {
		fmt.Println("create instance:", err)
		return helperFailed
	}
	return helperDenied
}
