"""`python -m tests.lab start|stop|status|config`: the lab's Asterisk by hand (for poking at
it with `asterisk -C <dir>/etc/asterisk.conf -r`, or to keep it up between test runs)."""

from __future__ import annotations

import sys

from tests.lab.availability import absent_reason
from tests.lab.pbx import LabPbx
from tests.lab.settings import LabSettings

USAGE = "usage: python -m tests.lab start|stop|status|config"


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("start", "stop", "status", "config"):
        print(USAGE, file=sys.stderr)
        return 2
    reason = absent_reason()
    if reason is not None:
        print(f"no lab: {reason}", file=sys.stderr)
        return 1
    pbx = LabPbx(LabSettings.from_environ())
    command = argv[0]
    if command == "config":
        pbx.prepare()
        print(f"configuration written to {pbx.directory / 'etc'}")
    elif command == "start":
        pbx.start()
        print(f"Asterisk running (pid {pbx.pid()}); console: {pbx.binary} -C {pbx.config} -r")
    elif command == "stop":
        pbx.stop()
        print("Asterisk stopped")
    else:
        running = pbx.running()
        print(f"Asterisk running, pid {pbx.pid()}" if running else "Asterisk not running")
        print(f"runtime directory {pbx.directory}, AMI 127.0.0.1:{pbx.settings.ports.ami}")
        return 0 if running else 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
