"""`jqgate demo` as a user runs it: it shows the injected Authorization header, then serves
until interrupted and exits cleanly."""
import signal
import subprocess
import sys
import time


def test_demo_shows_the_injected_header_and_stops_on_ctrl_c():
    proc = subprocess.Popen([sys.executable, "-m", "jqgate", "demo", "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("serving until Ctrl-C"):
                break
        output = "".join(lines)
        assert "Authorization: Bearer tok-demo-key" in output, output
        assert "-> HTTP/1.1 200" in output, output
        assert "try:  curl -i 'http://127.0.0.1:" in output
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
