"""The component reference (``docs/components.md``), rendered from the declarations.

``python -m agents.reference > docs/components.md`` rewrites it; a test fails when the file
and the code disagree, so the reference cannot drift.
"""

from __future__ import annotations

import re
import sys

from agents.config.spec import REQUIRED, Prop
from agents.registry import BUILTIN, FLUME_CLASSES, KNOWN_CUSTOM, NOT_PROVIDED, _load

INTRO = """# Agent component reference

Every component type `python -m agents` runs, with every property it accepts. Names are
Flume's; the first name of a property is the preferred one, the others are Flume's legacy
names, accepted too. Types are matched case-insensitively; Flume's full class names work as
well. A property that no component declares is reported by `--check` with a suggestion.
This file is generated from the code (`python -m agents.reference > docs/components.md`);
a test keeps the two equal.

Values follow `java.util.Properties` rules (`\\\\d` in the file is `\\d` in the value) and
`${VAR}` is replaced from the environment.
"""

MONITORING = """
## Monitoring

`--monitoring-port P` serves, on 127.0.0.1 (`--monitoring-host` to change):

- `/metrics`: Flume's JSON shape, one object per component keyed `SOURCE.<name>`,
  `CHANNEL.<name>`, `SINK.<name>`, with Flume's counter names (`EventReceivedCount`,
  `EventAcceptedCount`, `ChannelSize`, `ChannelFillPercentage`, `EventDrainSuccessCount`,
  `RollbackCount`, ...) as strings, plus `Health` (`running`, `retrying: <why>`, ...).
- `/metrics/prometheus`: the same counters as `flume_<kind>_<Counter>{agent,component}`
  and `flume_component_up`.

## Delivery

Sinks commit a channel transaction only after delivery (Kafka: every record of the batch
acknowledged). spooldir and TAILDIR record read positions only for lines sinks committed,
so a killed agent re-reads, never loses (duplicates possible). exec cannot replay its
command's output: at most once across a crash.
"""

TITLES = {"source": "Sources", "channel": "Channels", "interceptor": "Interceptors",
          "sink": "Sinks"}  # fmt: skip


def _default(prop: Prop) -> str:
    if prop.default is REQUIRED:
        return "**required**"
    if prop.kind == "prefix":
        return ""
    value = prop.default
    if isinstance(value, bool):
        value = str(value).lower()
    return f"`{value}`" if value != "" else "(empty)"


def _kind(prop: Prop) -> str:
    if prop.kind == "choice":
        return " \\| ".join(prop.choices)
    return {"prefix": "family", "list": "names", "bytes": "size"}.get(prop.kind, prop.kind)


def _doc(cls: type) -> str:
    """The first paragraph of the class's docstring, else of its module's."""
    text = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip()
    first = re.split(r"\n\s*\n", text)[0]
    return " ".join(first.split())


def render() -> str:
    out = [INTRO]
    classes = {alias: name for name, alias in FLUME_CLASSES.items()}
    for kind in ("source", "channel", "interceptor", "sink"):
        out.append(f"\n## {TITLES[kind]}\n")
        for alias, target in BUILTIN[kind].items():
            cls = _load(target)
            flume = f" (Flume class `{classes[alias]}`)" if alias in classes else ""
            shown = "TAILDIR" if alias == "taildir" else alias
            out.append(f"\n### `{shown}`{flume}\n\n{_doc(cls)}\n")
            out.append(_table(cls.PROPERTIES))
    out.append(
        "\n## Custom interceptors\n\n`type` may name any class by its Python import "
        "path (`mypkg.module.MyInterceptor`; a trailing `$Builder` is dropped). The "
        "book's Java class names map to Python examples:\n"
    )
    for name, target in KNOWN_CUSTOM.items():
        cls = _load(target)
        out.append(f"\n- `{name}` -> `{target.replace(':', '.')}`: {_doc(cls)}\n")
    out.append(MONITORING)
    out.append("\n## Flume types not provided\n\n`--check` names these, with what to use:\n\n")
    for alias, why in NOT_PROVIDED.items():
        out.append(f"- `{alias}`: {why}\n")
    return "".join(out)


def _table(props: tuple[Prop, ...]) -> str:
    if not props:
        return "\nNo properties.\n"
    rows = ["\n| property | type | default | meaning |\n|---|---|---|---|\n"]
    for p in props:
        names = " / ".join(f"`{n}`" for n in p.names()) + ("`<name>...`" if p.kind ==
                                                             "prefix" else "")  # fmt: skip
        rows.append(f"| {names} | {_kind(p)} | {_default(p)} | {p.doc} |\n")
    return "".join(rows)


if __name__ == "__main__":
    print(render(), end="")
