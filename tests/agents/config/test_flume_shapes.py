"""Issue 23 item 1: every config shape of ``flume_shapes.SHAPES``, strict and ``--lenient``.

Each shape goes through the agent's real config path: ``--check`` (in both modes, as a user
runs it) and ``Agent(build(build_plan(load_properties(file))))``, the components it builds are
compared with the table, and where a seq source and a sink run, the agent runs and its sinks
take the 5 events. The slow test runs the shapes through Apache Flume 1.11 and compares the
components Flume starts with the table's "Flume runs" column.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agents.__main__ import check
from agents.builder import build
from agents.config.properties import load_properties
from agents.config.topology import build_plan
from agents.errors import ConfigError
from agents.runtime import Agent
from tests.agents.agent_helpers import terminate_or_kill, wait_for
from tests.agents.config.flume_shapes import SHAPES, Shape


def write(shape: Shape, tmp: Path) -> Path:
    for d in shape.dirs:
        (tmp / d).mkdir(exist_ok=True)
    conf = tmp / "a.conf"
    conf.write_text(shape.text(str(tmp)))
    return conf


def line_of(conf: Path, key: str) -> int:
    """The line of *key*, else of the component it names, else of its component's type."""
    keys = [
        re.split(r"\s*=", line, maxsplit=1)[0].strip() for line in conf.read_text().splitlines()
    ]
    for wanted in (key, key + ".type", key + ".", key.rsplit(".", 1)[0] + ".type"):
        for number, found in enumerate(keys, 1):
            if found == wanted or (wanted.endswith(".") and found.startswith(wanted)):
                return number
    raise AssertionError(f"{key} is not in {conf}")


def tokens(text: str) -> str:
    """A "runs" text in one order: names and groups with their sinks."""
    return " ".join(sorted(re.findall(r"\w+(?:\([^)]*\))?", text)))


def runs(agent: Agent | None) -> str:
    """What an agent runs, as the table writes it: sources, channels, sinks, groups(sinks)."""
    if agent is None:
        return ""
    grouped = {s.name for g in agent.groups.values() for s in g.sinks}
    names = [*agent.sources, *agent.channels, *(s for s in agent.sinks if s not in grouped)]
    names += [f"{g}({' '.join(s.name for s in p.sinks)})" for g, p in agent.groups.items()]
    return tokens(" ".join(names))


def test_the_table_is_well_formed():
    assert len(SHAPES) >= 40
    assert len({s.id for s in SHAPES}) == len(SHAPES)
    for s in SHAPES:
        assert s.how.startswith(("read: ", "ran: ")), s.id
        assert s.strict or not s.warnings or s.id == "channel-not-connected", s.id


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.id)
def test_shape(shape: Shape, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = write(shape, tmp_path)

    # strict: --check refuses, naming the key; where --lenient runs the config it says so
    code = check(str(conf), "a")
    strict = capsys.readouterr().out
    errors = [line for line in strict.splitlines() if line.startswith("error: ")]
    if shape.strict:
        assert code == 1, strict
        said = [e for e in errors if shape.strict in e]
        assert said, strict
        if shape.runs:
            assert all("--lenient runs" in e for e in errors), strict
            assert "these would run with --lenient:" in strict
    else:
        assert code == 0 and not errors, strict

    # --lenient: one WARNING per ignored key or dropped piece, with file:line
    code = check(str(conf), "a", lenient=True)
    lenient = capsys.readouterr().out
    assert code == (0 if shape.runs else 1), lenient
    for key, fragment in shape.warnings:
        where = f"{conf}:{line_of(conf, key)}: {key}:"
        said = [x for x in lenient.splitlines() if where in x and fragment in x]
        assert len(said) == 1, f"{where} ... {fragment!r} once in:\n{lenient}"
        level = "error" if not shape.runs and "refuses" in fragment else "warning"
        assert said[0].startswith(f"{level}: "), said[0]

    # the agent's real config path builds what the table says runs
    built = build(build_plan(load_properties(str(conf)), "a"))
    agent = None
    with contextlib.suppress(ConfigError):
        agent = Agent(built, tmp_path / "state")
    if built.plan.blocking(lenient=True):
        agent = None  # --lenient refuses it: nothing runs
    assert runs(agent) == tokens(shape.runs), lenient
    if agent is not None and agent.sinks and "s" in agent.sources and "kafka" not in shape.id:
        deliver_five(agent)


def deliver_five(agent: Agent) -> None:
    """Run the agent: its sinks take the 5 events its source makes (exec: ``seq 1 5``)."""
    agent.start()
    try:
        assert wait_for(lambda: sum(k.counters.get("EventDrainSuccessCount")
                                    for k in agent.sinks.values()) >= 5, 20)  # fmt: skip
    finally:
        agent.stop(5)


# ---- the "Flume runs" column, confirmed by Apache Flume 1.11 ----

STARTED = re.compile(r"Starting (Channel|Sink|Source) (\S+)")
# the components named in Flume's "Starting new configuration:{ sourceRunners:{s=...} ...}"
PLANNED = re.compile(
    r"(\w+)=(?:PollableSourceRunner|EventDrivenSourceRunner|SinkRunner|org\.apache\.flume\.channel)"
)


def flume_starts(shape: Shape, tmp: Path) -> str:
    """The channels, sink runners and sources Flume 1.11 starts for *shape* (sink groups by
    group name, as Flume runs a group's sinks on one runner)."""
    from labctl.flume import ensure_flume

    conf = write(shape, tmp)
    log = tmp / "flume.log"
    with open(tmp / "stdout.txt", "wb") as out:
        proc = subprocess.Popen(ensure_flume().argv(conf, "a", log), stdout=out,
                                stderr=subprocess.STDOUT, cwd=tmp)  # fmt: skip

    def all_started() -> bool:
        """Every component of the configuration Flume started has its start line."""
        text = log.read_text() if log.exists() else ""
        line = text.split("Starting new configuration:", 1)[-1].split("\n", 1)[0]
        planned = PLANNED.findall(line)
        return "Starting new configuration:" in text and set(planned) <= {
            name for _, name in STARTED.findall(text)
        }

    try:
        wait_for(all_started, 120, step=0.2, proc=proc)  # or Flume exited: compared below
    finally:
        terminate_or_kill(proc)
    text = log.read_text() if log.exists() else ""
    return " ".join(sorted(name for _, name in STARTED.findall(text)))


def runners(table: str) -> str:
    """The table's "runs" as Flume's runners: a group is one runner."""
    return " ".join(sorted(re.sub(r"\(.*?\)", "", table).split()))


@pytest.mark.slow
@pytest.mark.timeout(1500)  # 24 JVM starts; minutes on a loaded 2-core machine
def test_flume_runs_what_the_table_says(tmp_path: Path) -> None:
    """The shapes observed in Flume and a sample of the others (``FLUME_SHAPES=all``: every
    one) through Apache Flume 1.11, two at a time: the components it starts are the table's
    (``flume_runs`` where it differs from --lenient)."""
    every = os.environ.get("FLUME_SHAPES") == "all"
    shapes = [s for s in SHAPES if every or s.differential or s.how.startswith("ran:")]

    def one(shape: Shape) -> tuple[Shape, str]:
        where = tmp_path / shape.id
        where.mkdir()
        return shape, flume_starts(shape, where)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, shapes))
    wrong = [f"{s.id}: Flume started {got!r}, the table says {runners(s.flume_runs or s.runs)!r}"
             for s, got in results if got != runners(s.flume_runs or s.runs)]  # fmt: skip
    assert not wrong, "\n".join(wrong)
