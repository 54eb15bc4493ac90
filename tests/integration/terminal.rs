//! Running the tool on a real terminal: a pseudo-terminal from Python's `pty` module (the
//! tests' only way to a pty without a new crate). The tool's prompt is answered once the
//! terminal's echo is off, as a person would type after the prompt; everything the terminal
//! showed is returned, so a test can check that nothing typed was echoed or printed.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `argv` on a new pty; when `prompt` appears, types `answer` and Enter (after echo is
/// turned off). Bounded: the child is killed after 300 s (exit code 99 then).
const DRIVER: &str = r#"
import os, pty, select, sys, termios, time
prompt = sys.argv[1].encode()
answer = sys.stdin.buffer.read()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
shown, sent = b"", False
deadline = time.monotonic() + 300
while time.monotonic() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.2)
    if ready:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    if not sent and prompt in shown:
        # The master shares the terminal's settings: wait until the tool has turned echo off.
        if not termios.tcgetattr(fd)[3] & termios.ECHO:
            os.write(fd, answer + b"\r")
            sent = True
else:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    sys.stdout.buffer.write(shown)
    sys.exit(99)
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(shown)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

pub struct TerminalRun {
    pub code: i32,
    /// Everything the terminal showed (stdout and stderr of the tool, and any echo).
    pub shown: String,
}

/// `argv` on a pty, with `env` added and the passphrase variable removed.
pub fn run_on_terminal(
    argv: &[&str],
    env: &[(&str, &str)],
    prompt: &str,
    answer: &str,
) -> TerminalRun {
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(DRIVER)
        .arg(prompt)
        .args(argv)
        .env_remove(parsec_sequester::extract::PASSPHRASE_ENV)
        .env_remove("PARSEC_DB")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("python3 (for the pty)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(answer.as_bytes())
        .expect("answer");
    let out = child.wait_with_output().expect("pty driver");
    TerminalRun {
        code: out.status.code().unwrap_or(-1),
        shown: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
    }
}
