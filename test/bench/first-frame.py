#!/usr/bin/env python3
"""Time from spawn to the first frame in a pseudo-terminal (80x24).

argv: N CWD MARKER cmd...  Runs cmd N times in CWD; prints the median ms until MARKER appears on the
terminal, or, with an empty MARKER, until the process exits (the `node -e 0` baseline). Prints "nan" if
no run got there within 10 s. CI and CONTINUOUS_INTEGRATION are removed from the child's environment:
ink treats any CI value as a non-interactive terminal and would never draw.
FIRST_FRAME_DEBUG=1 prints what the terminal received to stderr.
"""
import fcntl, os, pty, select, signal, statistics, struct, sys, termios, time

def once(cmd, cwd, marker):
    env = {k: v for k, v in os.environ.items() if k not in ('CI', 'CONTINUOUS_INTEGRATION', 'FIRST_FRAME_DEBUG')}
    env.update(TERM='xterm-256color', COLUMNS='80', LINES='24')
    t0 = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
        os.chdir(cwd)
        os.execvpe(cmd[0], cmd, env)
    buf = b''
    elapsed = None
    deadline = t0 + 10
    while time.perf_counter() < deadline:
        r, _, _ = select.select([fd], [], [], 0.05)
        if not r:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal (exited)
            chunk = b''
        if not chunk:
            if not marker:
                elapsed = (time.perf_counter() - t0) * 1000
            break
        buf += chunk
        if marker and marker in buf:
            elapsed = (time.perf_counter() - t0) * 1000
            break
    if os.environ.get('FIRST_FRAME_DEBUG'):
        sys.stderr.write(repr(buf[:3000]) + '\n')
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    os.close(fd)
    return elapsed

n = int(sys.argv[1]); cwd = sys.argv[2]; marker = sys.argv[3].encode(); cmd = sys.argv[4:]
times = [t for t in (once(cmd, cwd, marker) for _ in range(n)) if t is not None]
print(f"{statistics.median(times):.1f}" if times else "nan")
