"""The lab a command works on, however it was started: the one recorded in the home
(``lab.json``, written by `labctl up`), or a lab that ``docker compose up`` started for this home,
found in the engine and adopted (its spec recorded, its agent too) so every command drives it.

Where two Compose labs could be this home's, labctl asks which (``labctl --project NAME``, or
``LABCTL_PROJECT``); a Compose lab it cannot read is one sentence, and labctl touches nothing.
"""

from __future__ import annotations

import json
import os

from labctl.backends.discovery import ComposeLab, labs_for
from labctl.cluster import Cluster
from labctl.errors import LabError, LabHomeError, NotRunningError, UsageError
from labctl.paths import LabPaths
from labctl.pilot import agent as lab_agent
from labctl.spec import ClusterSpec, load_spec, purged

PROJECT_VARIABLE = "LABCTL_PROJECT"


def lab_spec(paths: LabPaths) -> ClusterSpec | None:
    """The home's lab: recorded, else a Compose lab adopted for it; None if there is none."""
    spec = load_spec(paths)
    if spec is not None and not purged(paths) and not os.environ.get(PROJECT_VARIABLE):
        return spec
    return adopt(paths) or spec


def open_lab(paths: LabPaths) -> Cluster:
    """The home's lab, or NotRunningError if there is none."""
    spec = lab_spec(paths)
    if spec is None:
        raise NotRunningError(f"there is no lab in {paths.home}; start one with `labctl up` "
                              "(or `docker compose up -d --wait`).")  # fmt: skip
    return Cluster(paths, spec)


def adopt(paths: LabPaths) -> ClusterSpec | None:
    """A Compose lab for this home (or the project asked for), recorded in the home."""
    project = os.environ.get(PROJECT_VARIABLE) or None
    labs = labs_for(paths.home, project)
    if not labs:
        if project:
            raise NotRunningError(f"no Compose project {project} runs a lab here "
                                  "(`docker compose ls`).")  # fmt: skip
        return None
    if len(labs) > 1:
        names = "; ".join(f"{lab.project} ({_what(lab)})" for lab in labs)
        raise UsageError(f"{len(labs)} Compose labs could be the lab of {paths.home}: {names}; "
                         "say which with `labctl --project NAME ...`.")  # fmt: skip
    lab = labs[0]
    if lab.spec is None:
        raise LabError(lab.problem)
    _record(paths, lab)
    return lab.spec


def _what(lab: ComposeLab) -> str:
    return lab.spec.describe() if lab.spec is not None else "unreadable"


def _record(paths: LabPaths, lab: ComposeLab) -> None:
    assert lab.spec is not None
    try:
        paths.home.mkdir(parents=True, exist_ok=True)
        paths.state_file.write_text(json.dumps(lab.spec.to_json(), indent=2) + "\n")
        if lab.agent is not None and lab.agent.monitoring_port:
            lab_agent.record(paths, lab.agent.where, lab.agent.monitoring_port,
                             lab.agent.conf, lab.agent.name)  # fmt: skip
    except OSError as exc:
        raise LabHomeError(f"{paths.home} cannot record the Compose lab {lab.project} "
                           f"({exc.strerror}); choose a writable --home.") from None  # fmt: skip
