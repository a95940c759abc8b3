"""Build, then run (issue 19 item 3): the builder checks and wires a plan without changing it;
``--check`` never makes an ``Agent``; ``Agent`` runs what it is given."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from agents.builder import build
from agents.config.properties import parse_properties
from agents.config.topology import build_plan
from agents.errors import ConfigError
from agents.runtime import Agent

# channel d is dropped (transactionCapacity > capacity), and with it sink k, which drains it
CONF = (
    "a.sources = s\na.channels = c d\na.sinks = k j\n"
    "a.sources.s.type = seq\na.sources.s.channels = c d\n"
    "a.channels.c.type = memory\na.channels.d.type = memory\n"
    "a.channels.d.capacity = 5\na.channels.d.transactionCapacity = 10\n"
    "a.sinks.k.type = logger\na.sinks.k.channel = d\n"
    "a.sinks.j.type = logger\na.sinks.j.channel = c\n"
)


def test_build_leaves_the_plan_as_it_was_and_says_what_runs() -> None:
    plan = build_plan(parse_properties(CONF, "b.conf"), "a")
    before = (list(plan.sources), list(plan.channels), list(plan.sinks), list(plan.problems))
    channels_of_s = list(plan.sources["s"].channels)
    built = build(plan)
    assert (list(plan.sources), list(plan.channels), list(plan.sinks), plan.problems) == (
        before[0], before[1], before[2], before[3]
    )  # fmt: skip
    assert plan.sources["s"].channels == channels_of_s
    assert list(built.plan.channels) == ["c"] and list(built.plan.sinks) == ["j"]
    assert built.plan.sources["s"].channels == ["c"]
    assert sorted(built.channels) == ["c"] and sorted(built.sinks) == ["j"]
    assert built.sinks["j"].channel is built.channels["c"]
    assert any("a.channels.d.transactionCapacity" in str(p) for p in built.problems)
    assert built.runnable
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.notes = []  # type: ignore[misc]  # frozen: the agent only runs it


def test_agent_refuses_a_build_with_nothing_to_run() -> None:
    text = "a.sources = s\na.channels = c\na.sources.s.type = seq\na.sources.s.channels = c\n"
    text += "a.channels.c.type = memory\na.channels.c.capacity = 5\n"
    text += "a.channels.c.transactionCapacity = 10\n"
    built = build(build_plan(parse_properties(text, "n.conf"), "a"))
    assert not built.runnable
    assert any("has no component that can run" in str(p) for p in built.problems)
    with pytest.raises(ConfigError):
        Agent(built)


def test_check_never_makes_an_agent(tmp_path: Path) -> None:
    """``--check`` prints the build; the runtime is not even imported."""
    conf = tmp_path / "b.conf"
    conf.write_text(CONF)
    probe = (
        "import sys\nfrom agents.__main__ import check\n"
        f"code = check({str(conf)!r}, 'a', lenient=True)\n"
        "assert 'agents.runtime' not in sys.modules, 'check imported the runtime'\n"
        "sys.exit(code)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "sink j (logger) <- c" in out.stdout and "sink k" not in out.stdout.split("run")[-1]
