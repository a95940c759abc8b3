"""py-spy (PyPI) sampling a running agent from outside: ``make profile`` installs it.

``--gil`` keeps only samples of the thread holding the GIL, so the count of samples over
(rate x seconds) is the share of the time the GIL was held, and each sample is Python work
(or C work done holding the GIL), never a thread waiting.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

INSTALL = "py-spy is not installed: `make profile` installs it from PyPI"


def py_spy() -> str | None:
    """The venv's py-spy (beside this Python, even when not on PATH), else PATH's."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Recording:
    """``py-spy record --gil`` of *pid* into *out* (raw collapsed stacks) until ``stop()``.

    ``detail``: native frames, thread names and function-level frames (the profile); without
    it, a light sampler that does not pause the process (the GIL share only)."""

    def __init__(self, pid: int, out: Path, rate: int, detail: bool) -> None:
        binary = py_spy()
        if binary is None:
            raise RuntimeError(INSTALL)
        argv = [binary, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
                "--gil", "--output", str(out)]  # fmt: skip
        argv += ["--threads", "--native", "--function"] if detail else ["--nonblocking"]
        self.out, self.rate = out, rate
        self._proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self._proc.stdout is not None
        first = self._proc.stdout.readline()  # "py-spy> Sampling process ..." once attached
        if b"Sampling" not in first:
            rest = first + self._proc.stdout.read()
            self._proc.wait(10)
            raise RuntimeError(f"py-spy could not attach to {pid}: {rest.decode().strip()}")

    def stop(self) -> None:
        """Stop sampling; py-spy writes its output file."""
        self._proc.send_signal(signal.SIGINT)
        assert self._proc.stdout is not None
        self._proc.stdout.read()
        self._proc.wait(60)

    def samples(self) -> int:
        total = 0
        for line in self.out.read_text().splitlines():
            count = line.rpartition(" ")[2]
            total += int(count) if count.isdigit() else 0
        return total

    def gil_held(self, seconds: float) -> float:
        """Share of *seconds* (the sampled run) during which a thread held the GIL."""
        return self.samples() / (self.rate * seconds)
