//go:build windows

package hostos

import (
	"fmt"
	"os"
	"os/exec"
	"unsafe"

	"golang.org/x/sys/windows"
)

// groupSys holds the job object the command and its children run in.
type groupSys struct {
	job windows.Handle
}

func prepare(*exec.Cmd) {}

func (g *groupSys) started(p *os.Process) error {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return fmt.Errorf("job object: %w", err)
	}
	// Processes of the job die with the last handle to it, so a cododemo
	// that is itself killed takes vagrant and its ruby along.
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{}
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return fmt.Errorf("job object limits: %w", err)
	}
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(p.Pid))
	if err != nil {
		windows.CloseHandle(job)
		return fmt.Errorf("open process %d: %w", p.Pid, err)
	}
	defer windows.CloseHandle(h)
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		windows.CloseHandle(job)
		return fmt.Errorf("assign process %d to its job: %w", p.Pid, err)
	}
	g.job = job
	return nil
}

func (g *groupSys) interrupt(*os.Process) error { return nil }

func (g *groupSys) kill(p *os.Process) error {
	if g.job == 0 {
		return p.Kill()
	}
	err := windows.TerminateJobObject(g.job, 1)
	g.release()
	return err
}

func (g *groupSys) release() {
	if g.job != 0 {
		// Without KILL_ON_JOB_CLOSE this would only free the handle; with
		// it, whatever the command left running stops too, which is what
		// a finished vagrant command should leave behind anyway: VirtualBox
		// VMs run under VBoxSVC, outside the job.
		windows.CloseHandle(g.job)
		g.job = 0
	}
}

// stillActive is what GetExitCodeProcess reports for a running process.
const stillActive = 259

// ProcessAlive says whether a process with this id is still running.
func ProcessAlive(pid int) bool {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return false
	}
	defer windows.CloseHandle(h)
	var code uint32
	return windows.GetExitCodeProcess(h, &code) == nil && code == stillActive
}
