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

Values follow `java.util.Properties` rules (`\\\\d` in the file is `\\d` in the value); the file
is read as UTF-8 (Flume reads ISO-8859-1, so a UTF-8 `한` in a Flume config is mojibake there
and a regex with it never matches; here it is `한`). `${...}` in a value is replaced as Flume
1.11 does: `${a.sinks.k.type}` by that key of the file, `${env:NAME}` from the environment,
`${sys:user.home}` (user.name, user.dir, java.io.tmpdir, os.name, the separators) as a JVM here
says, `${NAME:-default}`, and `$${x}` is the text `${x}`. `${NAME}` that is no key of the file
comes from the environment (Flume 1.11 only does that when started with
`-DpropertiesImplementation=org.apache.flume.node.EnvVarResolverProperties`; the lab's configs
rely on it); a name found nowhere stays as written, as in Flume, and is reported. Flume
resolves a key of the file only if it came before in its HashMap's order; here always.

**Strict by default, Flume's way with `--lenient`.** A config with an error (a key no
component declares, a bad value or regex, an unknown type, a source or sink without its
channel, a selector naming a channel its source does not have, a sink group naming an unknown
sink) is refused, in run mode as by `--check`: every problem is printed with file, line and
key, what Apache Flume 1.11 does with it and what `--lenient` would do, and the agent exits 1.
`--lenient` runs the config as Flume runs it, with one WARNING (file:line) for each thing it
ignores or leaves out: unknown keys and empty values are ignored; a boolean that is not
`true`/`false` is false (`preserveExisting = yes` too); the memory channel's sizes and
failover's `maxpenalty` fall back on their defaults, a failover priority that is not a number
ranks its sink last; a source keeps the channels that exist, a sink group the sinks that exist
and are in no earlier group (a failover priority given twice leaves the later sink listed
out); a source, sink or channel that Flume removes (a value its code cannot read, a missing
channel, a multiplexing `default` with two spaces between names) is left out and the rest
runs; a sink group whose processor cannot run is left out with its sinks, which do not run
in Flume either. Where Flume refuses the whole config (an unknown component type, a sink group
without `sinks`), so does `--lenient`. `--check --lenient` prints what `--lenient` would run.
The shapes, each with Flume's behaviour (read in its source or observed running Flume 1.11),
the strict and the lenient outcome, are the table `tests/agents/config/flume_shapes.py`.
`--check` has no side effects: it creates no directory, connects to no broker and looks up
no host name; it does import the Python modules that custom `type`s name (that is how they
are found).

**Regular expressions are Java's.** Every regex property (regex_filter, regex_extractor,
search_replace, remove_header, spooldir's include/ignorePattern, TAILDIR's filegroups, the
syslog sources' `format.*`) is read as `java.util.regex` reads it (JDK 17), translated for the
`regex` package (`agents/config/javaregex.py`): `\\d \\w \\s` and the POSIX classes
(`\\p{Digit}`) are ASCII unless `(?U)`, `(?i)` folds ASCII letters only unless `(?u)`, `\\b`
is JDK 17's (letters, digits, `_`), `.` and `$` know Java's line terminators (`\\r`, `\\u0085`,
`\\u2028`, `\\u2029`), and `\\Q...\\E`, `\\p{javaLowerCase}`, `\\p{IsLatin}`, `\\p{InGreek}`,
`(?<name>...)` with `\\k<name>`, possessive quantifiers, atomic groups, `&&` in classes and
`(?x)` work; what Java refuses (`a{`, `(?P<n>...)`, an unknown escape) is refused.
Replacements read `$1`, `$12` (group 12 if there is one, else group 1 and `2`) and `${name}` as
Java does. A test compares about 2,000 matches and replacements with JDK 17's. Still
different: Unicode tables are the `regex` package's (newer than JDK 17's Unicode 13), a `(?u)`
inside a group folds case in the whole pattern, `\\b` under `(?U)` and `CANON_EQ` are not
Java's, and positions count code points (Java counts UTF-16 units; it matters only to a
pattern that looks at half of a character outside the BMP).
"""

MONITORING = """
## Monitoring and health

`--monitoring-port P` serves, on 127.0.0.1 (`--monitoring-host` to change):

- `/metrics`: Flume's JSON shape, one object per component keyed `SOURCE.<name>`,
  `CHANNEL.<name>`, `SINK.<name>`, with Flume's counter names and meanings (`EventReceivedCount`,
  `EventAcceptedCount` - a source's events *before* its interceptors, as in Flume -,
  `ChannelSize`, `ChannelFillPercentage`, `EventDrainSuccessCount`, `ChannelReadFail`, the Kafka
  sink's `KafkaEventSendTimer` and `RollbackCount`, ...) as strings, plus `Health`.
  Counters of our own: `EventForwardedCount` (a source's events after its interceptors),
  `EventUnroutedCount` (events a multiplexing selector sent nowhere), `OptionalChannelWriteFail`
  (events an optional channel refused), `LineSplitCount` (over-long lines split),
  `RestartCount` (restarts after a failure: any exception, or the runner's thread ending; a
  sink group's counts on each of its sinks), `RollbackCount` on every sink, `DeadLetterCount`
  (records set aside); the file channel's `CheckpointCount`, `Fsyncs`, `Segments`,
  `SegmentBytes`, `SegmentsDeleted`, `DiskSpaceRefusals`, `EventsLostToCorruption` (events
  unreadable at take, plus those a replay could not restore: docs/file-channel.md).
- `/metrics/prometheus`: the same counters in the Prometheus text format, by `prometheus_client`:
  `flume_<kind>_<counter>_total{agent,component}` (e.g. `flume_sink_event_drain_success_total`),
  gauges (`flume_channel_size`, ...), `flume_component_up` and `flume_component_health{state}`.

`Health` is `running`, `stopped[: why]`, or what the agent sees from outside (one log line per
change, `--stall-after` seconds, default 10): `retrying: <why>` (cannot start; tried again
every 3 s), `restarting: <why>` (it failed; restarted after a pause growing to 30 s),
`failed: <why>` (it cannot run at all, e.g. another agent holds its spool dir or position
file: the agent stops and exits 1), `blocked: <why>` (a source waiting that long for room in a
full channel),
`stalled: ...` (a sink that delivered nothing that long while its channel holds events),
`rolling back: ...` (5 or more rollbacks in that time). A sink of a failover group that is
not the active one is `running: standby (priority N)`; one set aside after a failure,
`retrying: failed over (...)`; a load_balance sink left out, `retrying: backed off (...)`.
A file channel refusing puts for disk space is `blocked: ...` and says how much is free.
A component stopped for good by a fatal error (an exactly-once Kafka sink's producer) is
`failed: <why>`; its counters `TransactionCommitCount`, `TransactionAbortCount` and
`DuplicateDropCount` (events taken again that Kafka already had) say what it did.

## Delivery

Sinks commit a channel transaction only after delivery (Kafka: every record of the batch
acknowledged; avro: the next agent answered OK, i.e. its channels committed). spooldir and
TAILDIR record read positions only for lines that are safe, and only at line boundaries, so a
killed agent re-reads, never loses, never emits a fragment (duplicates possible). Safe means:
committed by a sink, for a memory channel; committed to disk, for a file channel (a file
channel replays at the next start). A failed delivery makes a sink group fail over (or try
the next sink); the batch was rolled back, so the next sink delivers it again.
exec cannot replay its command's output: at most once across a crash.
A record Kafka refuses for good (too large, an invalid topic, not authorised) goes to
`<state dir>/dead-letter/<sink>.jsonl` (`--state-dir`, default `~/.flume/agents/<agent>`;
`labctl` uses `<lab>/agents/<agent>`) with one log line, and the flow goes on; other errors
roll back and back off. At stop, sinks get `--drain-timeout` seconds (default 30) to drain
their channels; a channel with no running sink is not waited for, nor one whose sinks' last
delivery failed (an avro sink whose next hop is down: the stop takes at most the sink's own
`request-timeout` for a call in flight, where it took the whole drain timeout). What stays in a
channel is logged: a file channel keeps it for the next start, a memory channel loses it (as
in Flume, which does not drain at all).
A Kafka sink with `exactlyOnce = true` writes each batch and the read positions it completes in
one Kafka transaction, and spooldir and TAILDIR feeding only such sinks resume from those
positions: every line once for read_committed readers, across SIGKILLs and broker loss
(docs/exactly-once.md; `--check` says which flows it covers and refuses those it cannot).

## Flows in processes of their own

One agent process holds one Python GIL, so its flows take turns on one core.
`--flow-processes` runs each independent flow (the connected parts of sources, channels,
sinks and sink groups: two flows share no channel, sink or group) in a process of its own,
supervised by the agent process (default: on, `--no-flow-processes` turns it off;
docs/performance.md has the figures). The
agent is still one agent: one `/metrics` (the merge of its flows'; a restarted flow's counts
go on from what its dead process had shown at the last scrape), one stop (SIGTERM or
SIGINT: every flow drains, with the same `--drain-timeout`, in parallel; exit 0), one exit
code (a flow that stops for good stops them all, e.g. exit 1 when another agent holds its
spool dir). A flow process that dies is
started again after a pause growing from 1 s to 30 s (its components count `RestartCount`,
their `Health` says `restarting: flow process killed by SIGKILL; ...` meanwhile); it resumes
from its state on disk (TAILDIR positions, spooldir trackers, file channels): at least once,
as for a killed agent, and what it held in a memory channel is lost, as with a killed agent.
Flow processes die with the agent process, also when it is killed (SIGKILL included). Log
lines of a flow process say `[flow NAME]`; a flow is named by its sources (`r1+r2` for two
sources into one channel; its sinks' names if it has no source), as the agent logs them at
start; `--flow NAME` runs one flow alone; `--check` is the same with or without the flag; a
config with one flow runs in one process whatever the flag says. Each flow process
is a Python interpreter of its own (about 50-60 MB with a Kafka producer).

## Where this agent differs from Flume 1.11 on purpose

- Over-long lines: split every `maxLineLength` characters as Flume does, counting code points
  (Flume counts UTF-16 units and may split a surrogate pair); a line of exactly
  `maxLineLength` characters is one event (Flume adds an empty event after it); one warning
  per split line, with its byte offset (Flume: one per cut, without one).
- exec: a last line without a newline is delivered when the command ends by itself, also when
  the agent stops before the source read it (Flume delivers it in about one run of three); the
  last line of a command the stop has to kill is dropped with a warning, as Flume drops it: a
  line still being written would be a record that never existed.
- logger: `maxBytesToLog` is honoured (Flume 1.11's logger sink prints 16 bytes whatever it is
  set to); with the default the lines are Flume's, byte for byte.
- spooldir and TAILDIR do not follow symbolic links unless `followLinks = true`.
- Listening sources (avro, netcat, netcatudp, http, syslog*) bind 127.0.0.1 unless `bind`
  (syslog: `host`) says otherwise; Flume listens on every address.
- syslogtcp, multiport_syslogtcp and syslogudp do not drop messages when a channel is full:
  the connection is read no further until the channel takes them (UDP: what the socket buffer
  holds). A last TCP message without a newline is delivered when the sender closes. RFC 5424
  timestamps with fractional seconds keep their offset (Flume 1.11's syslogtcp reads them in
  the agent's zone). syslogudp does not print every datagram to stdout.
- netcat replaces bytes invalid in `encoding` with U+FFFD (Flume closes the connection).
- regex_extractor: a value the millis serializer cannot read leaves that header unset, with a
  warning (Flume fails the whole batch); a group that did not take part sets its header to
  the text `null` (Flume puts a Java null, which its logger shows as `null` and its avro sink
  cannot send).
- http: requests over 64 MiB are refused (413); an empty POST is answered 400, the client's
  mistake (Flume answers 500).
- file channel: directories default to `<state dir>/file-channel/<channel>/` (Flume's
  `~/.flume/file-channel/` would be shared by every channel on the machine); the on-disk format
  is our own (docs/file-channel.md), so a directory of Apache Flume's is refused, not read.
- Config shapes (see the top): by default an error refuses the config where Flume would run
  part of it; `--lenient` runs it as Flume. Where Flume picks by its HashMap order (which of
  two failover sinks with one priority is left out, which group keeps a sink named by two),
  `--lenient` keeps the first listed. A `${key}` of the file always resolves (Flume: depending
  on the order of its keys). A sink of a group that could not be configured makes Flume run
  nothing at all; `--lenient` refuses such a config.
- Counters: `EventTakeAttemptCount` counts as Flume's channels count `take()` calls (one per
  event, one more for a take that found none); seq counts no `EventReceivedCount`, as Flume's.
"""

TITLES = {"source": "Sources", "channel": "Channels", "interceptor": "Interceptors",
          "sink": "Sinks", "selector": "Channel selectors (`<source>.selector.*`)",
          "processor": "Sink processors (`<agent>.sinkgroups.<group>.processor.*`)"}  # fmt: skip
KIND_INTRO = {
    "selector": "\nA source's `selector.type` (default `replicating`) and its settings, keyed "
    "`<source>.selector.<property>`.\n",
    "processor": "\nSink groups: `<agent>.sinkgroups = g1`, `<agent>.sinkgroups.g1.sinks = k1 k2`,"
    " `<agent>.sinkgroups.g1.processor.type = failover` and the processor's settings, keyed "
    "`<agent>.sinkgroups.<group>.processor.<property>`. A sink in no group runs on its own.\n",
}


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
    classes = {kind_alias: name for name, kind_alias in FLUME_CLASSES.items()}
    for kind in ("source", "channel", "interceptor", "sink", "selector", "processor"):
        out.append(f"\n## {TITLES[kind]}\n")
        out.append(KIND_INTRO.get(kind, ""))
        for alias, target in BUILTIN[kind].items():
            cls = _load(target)
            flume = f" (Flume class `{classes[kind, alias]}`)" if (kind, alias) in classes else ""
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
