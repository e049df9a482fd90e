#!/usr/bin/env python3
"""Time from spawn to the first wizard frame in a pseudo-terminal. argv: N cwd cmd... ; prints median ms."""
import os, pty, sys, time, select, statistics, signal

def once(cmd, cwd, marker):
    t0 = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        env = dict(os.environ, TERM='xterm-256color', CI='', COLUMNS='80', LINES='24')
        env.pop('CI', None)
        os.execvpe(cmd[0], cmd, env)
    buf = b''
    elapsed = None
    deadline = t0 + 10
    while time.perf_counter() < deadline:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            if marker in buf:
                elapsed = (time.perf_counter() - t0) * 1000
                break
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(fd)
    return elapsed

n = int(sys.argv[1]); cwd = sys.argv[2]; marker = sys.argv[3].encode(); cmd = sys.argv[4:]
times = [t for t in (once(cmd, cwd, marker) for _ in range(n)) if t is not None]
print(f"{statistics.median(times):.1f}" if times else "nan")
