"""Config shapes Apache Flume 1.11 runs, refuses or repairs, and what this agent does with each.

One row per shape: the lines that make it (added to, or replacing lines of, ``BASE``), what
Flume does (and how we know: ``read`` in Flume's source, ``ran`` Flume 1.11 here), what the
agent does by default (``strict``: refuses, with a message that names the key and, where
``--lenient`` runs the config, says so) and under ``--lenient`` (which components run, and the
one WARNING each ignored key or dropped piece gets, with file:line).

``test_flume_shapes.py`` drives every row through the agent's real config path and ``--check``;
its slow differential test runs the rows observed in Flume (``how`` "ran: ...") and those
marked ``differential`` through Apache Flume 1.11 and compares the components Flume starts with
``runs`` (``FLUME_SHAPES=all`` runs every row: all 51 matched Flume 1.11 when this was written).
"""

from __future__ import annotations

from dataclasses import dataclass, field

BASE = """\
a.sources = s
a.channels = c
a.sinks = k
a.sources.s.type = seq
a.sources.s.totalEvents = 5
a.sources.s.channels = c
a.channels.c.type = memory
a.sinks.k.type = null
a.sinks.k.channel = c
"""

# Two sinks on one channel, for the sink-group shapes.
TWO_SINKS = {
    "a.sinks = k": "a.sinks = k k2",
    "a.sinks.k.channel = c": "a.sinks.k.channel = c\na.sinks.k2.type = null\n"
    "a.sinks.k2.channel = c",
}
THREE_SINKS = {
    "a.sinks = k": "a.sinks = k k2 k3",
    "a.sinks.k.channel = c": "a.sinks.k.channel = c\na.sinks.k2.type = null\n"
    "a.sinks.k2.channel = c\na.sinks.k3.type = null\na.sinks.k3.channel = c",
}
TWO_CHANNELS = {
    "a.channels = c": "a.channels = c c2",
    "a.channels.c.type = memory": "a.channels.c.type = memory\na.channels.c2.type = memory",
    "a.sinks = k": "a.sinks = k k2",
    "a.sinks.k.channel = c": "a.sinks.k.channel = c\na.sinks.k2.type = null\n"
    "a.sinks.k2.channel = c2",
}


@dataclass(frozen=True)
class Shape:
    """One config shape and what Flume, the strict agent and ``--lenient`` do with it."""

    id: str
    add: str  # lines appended to BASE (after ``replace``)
    flume: str  # what Apache Flume 1.11 does
    how: str  # "read: <where in Flume's source>" or "ran: Flume 1.11 here"
    runs: str  # components that run under --lenient (and in Flume): "s c k", groups as "g(k k2)"
    warnings: tuple[tuple[str, str], ...]  # --lenient: (key, fragment) of each WARNING
    strict: str = ""  # fragment of the strict error ("" : strict runs it too)
    replace: dict[str, str] = field(default_factory=dict)
    flume_runs: str | None = None  # where Flume runs something else than --lenient
    differential: bool = False  # the slow test runs it through Flume 1.11 (so it does "ran:")
    dirs: tuple[str, ...] = ()  # directories under {tmp} the shape needs

    def text(self, tmp: str = "/tmp") -> str:
        conf = BASE
        for old, new in self.replace.items():
            assert old + "\n" in conf, old
            conf = conf.replace(old + "\n", new + "\n", 1)
        return (conf + (self.add + "\n" if self.add else "")).replace("{tmp}", tmp)

    @property
    def lenient_runs(self) -> bool:
        return bool(self.runs)


IGNORE = "ignores this key"
SHAPES: tuple[Shape, ...] = (
    # ---- unknown keys: Flume reads the keys it knows and ignores the rest ----
    Shape(
        "source-typo",
        "a.sources.s.batchsize = 10",
        f"{IGNORE} (seq reads batchSize)",
        "read: Context lookups in SequenceGeneratorSource.configure",
        "s c k",
        (("a.sources.s.batchsize", "did you mean 'batchSize'?"),),
        "is not a property of this component",
        differential=True,
    ),
    Shape(
        "channel-typo",
        "a.channels.c.capacty = 1000",
        f"{IGNORE}: capacity stays 100",
        "read: MemoryChannel.configure",
        "s c k",
        (("a.channels.c.capacty", "did you mean 'capacity'?"),),
        "is not a property of this component",
    ),
    Shape(
        "sink-typo",
        "a.sinks.k.sink.rollIntervall = 60",
        f"{IGNORE} (file_roll)",
        "read: RollingFileSink.configure",
        "s c k",
        (("a.sinks.k.sink.rollIntervall", "did you mean 'sink.rollInterval'?"),),
        "is not a property of this component",
        replace={
            "a.sinks.k.type = null": "a.sinks.k.type = file_roll\n"
            "a.sinks.k.sink.directory = {tmp}/out"
        },
        dirs=("out",),
    ),
    Shape(
        "deserializer-typo",
        "a.sources.sp.deserializer.maxLineLenght = 10",
        f"{IGNORE}: the line deserializer reads maxLineLength",
        "read: LineDeserializer's constructor",
        "s sp c k",
        (("a.sources.sp.deserializer.maxLineLenght", "did you mean"),),
        "is not a property of this component",
        replace={
            "a.sources = s": "a.sources = s sp",
            "a.sources.s.channels = c": "a.sources.s.channels = c\n"
            "a.sources.sp.type = spooldir\na.sources.sp.spoolDir = {tmp}/spool\n"
            "a.sources.sp.channels = c",
        },
        dirs=("spool",),
    ),
    Shape(
        "exec-typo",
        "a.sources.s.restartt = true",
        f"{IGNORE}: restart stays false",
        "read: ExecSource.configure",
        "s c k",
        (("a.sources.s.restartt", "did you mean 'restart'?"),),
        "is not a property of this component",
        replace={
            "a.sources.s.type = seq": "a.sources.s.type = exec",
            "a.sources.s.totalEvents = 5": "a.sources.s.command = seq 1 5",
        },
    ),
    Shape(
        "kafka-flumeBatchSize",
        "a.sinks.k.kafka.flumeBatchSize = 100",
        f"{IGNORE} (the key is flumeBatchSize)",
        "read: KafkaSink.configure",
        "s c k",
        (("a.sinks.k.kafka.flumeBatchSize", "did you mean 'flumeBatchSize'?"),),
        "is not a property of this component",
        replace={
            "a.sinks.k.type = null": "a.sinks.k.type = org.apache.flume.sink.kafka."
            "KafkaSink\na.sinks.k.kafka.bootstrap.servers = 127.0.0.1:1\n"
            "a.sinks.k.kafka.topic = t"
        },
    ),
    Shape(
        "replicating-header-default",
        "a.sources.s.selector.header = h\na.sources.s.selector.default = c",
        "ignores both: a replicating selector reads only optional",
        "read: ReplicatingChannelSelector.configure",
        "s c k",
        (
            ("a.sources.s.selector.header", "is not a property"),
            ("a.sources.s.selector.default", "is not a property"),
        ),
        "is not a property of this component",
    ),
    Shape(
        "load-balance-priority-maxpenalty",
        "a.sinkgroups = g\na.sinkgroups.g.sinks = k k2\n"
        "a.sinkgroups.g.processor.type = load_balance\n"
        "a.sinkgroups.g.processor.priority.k = 5\na.sinkgroups.g.processor.maxpenalty = 1000",
        "ignores both (failover's keys)",
        "read: LoadBalancingSinkProcessor.configure",
        "s c g(k k2)",
        (
            ("a.sinkgroups.g.processor.priority.k", "is not a property"),
            ("a.sinkgroups.g.processor.maxpenalty", "is not a property"),
        ),
        "is not a property of this component",
        replace=TWO_SINKS,
    ),
    Shape(
        "failover-selector-backoff",
        "a.sinkgroups = g\na.sinkgroups.g.sinks = k k2\n"
        "a.sinkgroups.g.processor.type = failover\n"
        "a.sinkgroups.g.processor.selector = random\na.sinkgroups.g.processor.backoff = true",
        "ignores both (load_balance's keys)",
        "read: FailoverSinkProcessor.configure",
        "s c g(k k2)",
        (
            ("a.sinkgroups.g.processor.selector", "is not a property"),
            ("a.sinkgroups.g.processor.backoff", "is not a property"),
        ),
        "is not a property of this component",
        replace=TWO_SINKS,
    ),
    Shape(
        "agent-unknown-key",
        "a.sourcess = s",
        "ignores it ('Invalid property specified')",
        "read: FlumeConfiguration.AgentConfiguration.addProperty",
        "s c k",
        (("a.sourcess", "is not a Flume agent property"),),
        "is not a Flume agent property",
    ),
    Shape(
        "group-unknown-key",
        "a.sinkgroups = g\na.sinkgroups.g.sinks = k k2\n"
        "a.sinkgroups.g.processor.type = failover\na.sinkgroups.g.prosessor.maxpenalty = 1",
        "ignores it: a group reads sinks and processor.*",
        "read: SinkGroupConfiguration.configure",
        "s c g(k k2)",
        (("a.sinkgroups.g.prosessor.maxpenalty", "is not a sink group property"),),
        "is not a sink group property",
        replace=TWO_SINKS,
    ),
    # ---- values Flume falls back on ----
    Shape(
        "capacity-10k",
        "a.channels.c.capacity = 10k",
        "uses the default capacity 100",
        "read: MemoryChannel.configure catches NumberFormatException",
        "s c k",
        (("a.channels.c.capacity", "uses the default 100"),),
        "expected a whole number",
        differential=True,
    ),
    Shape(
        "capacity-0",
        "a.channels.c.capacity = 0",
        "uses the default capacity 100",
        "read: MemoryChannel.configure (capacity <= 0)",
        "s c k",
        (("a.channels.c.capacity", "uses the default 100"),),
        "must be at least 1",
    ),
    Shape(
        "transactionCapacity-x",
        "a.channels.c.transactionCapacity = x",
        "uses the default 100",
        "read: MemoryChannel.configure",
        "s c k",
        (("a.channels.c.transactionCapacity", "uses the default 100"),),
        "expected a whole number",
    ),
    Shape(
        "preserveExisting-ture",
        "a.sources.s.interceptors = i\n"
        "a.sources.s.interceptors.i.type = static\n"
        "a.sources.s.interceptors.i.preserveExisting = ture",
        "reads it as false (Boolean.parseBoolean)",
        "read: Context.getBoolean",
        "s c k",
        (("a.sources.s.interceptors.i.preserveExisting", "reads it as false"),),
        "expected true or false",
    ),
    Shape(
        "preserveExisting-yes",
        "a.sources.s.interceptors = i\n"
        "a.sources.s.interceptors.i.type = timestamp\n"
        "a.sources.s.interceptors.i.preserveExisting = yes",
        "reads it as false (Boolean.parseBoolean)",
        "read: Context.getBoolean",
        "s c k",
        (("a.sources.s.interceptors.i.preserveExisting", "reads it as false"),),
        "expected true or false",
        differential=True,
    ),
    Shape(
        "static-empty-value",
        "a.sources.s.interceptors = i\n"
        "a.sources.s.interceptors.i.type = static\na.sources.s.interceptors.i.key = empty\n"
        "a.sources.s.interceptors.i.value =",
        "drops a property with an empty value, so the header is empty=value (the default)",
        "read: FlumeConfiguration.addRawProperty",
        "s c k",
        (("a.sources.s.interceptors.i.value", "empty"),),
        "is empty",
        differential=True,
    ),
    Shape(
        "failover-maxpenalty-abc",
        "a.sinkgroups = g\na.sinkgroups.g.sinks = k k2\n"
        "a.sinkgroups.g.processor.type = failover\na.sinkgroups.g.processor.maxpenalty = abc",
        "uses the default 30000",
        "read: FailoverSinkProcessor.configure",
        "s c g(k k2)",
        (("a.sinkgroups.g.processor.maxpenalty", "uses the default 30000"),),
        "expected a whole number",
        replace=TWO_SINKS,
        differential=True,
    ),
    Shape(
        "failover-priority-abc",
        "a.sinkgroups = g\na.sinkgroups.g.sinks = k k2\n"
        "a.sinkgroups.g.processor.type = failover\na.sinkgroups.g.processor.priority.k = abc",
        "ranks the sink below those with a priority",
        "read: FailoverSinkProcessor.configure",
        "s c g(k k2)",
        (("a.sinkgroups.g.processor.priority.k", "ranks sink k below"),),
        "expected a whole number",
        replace=TWO_SINKS,
    ),
    Shape(
        "load-balance-backoff-maybe",
        "a.sinkgroups = g\na.sinkgroups.g.sinks = k k2\n"
        "a.sinkgroups.g.processor.type = load_balance\n"
        "a.sinkgroups.g.processor.backoff = maybe",
        "reads it as false",
        "read: LoadBalancingSinkProcessor.configure",
        "s c g(k k2)",
        (("a.sinkgroups.g.processor.backoff", "reads it as false"),),
        "expected true or false",
        replace=TWO_SINKS,
    ),
    # ---- values Flume cannot read: it removes the component ----
    Shape(
        "seq-batchSize-10k",
        "a.sources.s.batchSize = 10k",
        "removes the source (NumberFormatException)",
        "read: SequenceGeneratorSource.configure",
        "c k",
        (("a.sources.s.batchSize", "leaves source s out"),),
        "expected a whole number",
        differential=True,
    ),
    Shape(
        "exec-no-command",
        "",
        "removes the source (command is required)",
        "read: ExecSource.configure",
        "c k",
        (("a.sources.s.command", "leaves source s out"),),
        "is required but not set",
        replace={
            "a.sources.s.type = seq": "a.sources.s.type = exec",
            "a.sources.s.totalEvents = 5": "a.sources.s.restart = false",
        },
    ),
    Shape(
        "regex-filter-bad-regex",
        "a.sources.s.interceptors = f\n"
        "a.sources.s.interceptors.f.type = regex_filter\n"
        "a.sources.s.interceptors.f.regex = ^(\\\\d",
        "removes the source (PatternSyntaxException)",
        "read: RegexFilteringInterceptor.Builder.configure",
        "c k",
        (("a.sources.s.interceptors.f.regex", "leaves source s out"),),
        "invalid regular expression",
    ),
    Shape(
        "interceptor-unknown-type",
        "a.sources.s.interceptors = i\na.sources.s.interceptors.i.type = stattic",
        "removes the source (interceptor class not found)",
        "read: ChannelProcessor.configureInterceptors",
        "c k",
        (("a.sources.s.interceptors.i.type", "leaves source s out"),),
        "unknown interceptor type",
    ),
    Shape(
        "interceptor-no-type",
        "a.sources.s.interceptors = i",
        "removes the source (Interceptor.Type not specified)",
        "read: ChannelProcessor.configureInterceptors",
        "c k",
        (("a.sources.s.interceptors", "leaves source s out"),),
        "has no type",
    ),
    Shape(
        "memory-transaction-over-capacity",
        "a.channels.c.capacity = 10\na.channels.c.transactionCapacity = 20",
        "removes the channel, then the source and sink on it",
        "read: MemoryChannel.configure",
        "",
        (("a.channels.c.transactionCapacity", "leaves channel c out"),),
        "exceeds capacity",
    ),
    Shape(
        "multiplexing-two-spaces",
        "a.sources.s.selector.type = multiplexing\n"
        "a.sources.s.selector.header = h\na.sources.s.selector.default = c  c2",
        'removes the source: split(" ") makes an empty channel name',
        "read: AbstractChannelSelector.getChannelListFromNames",
        "c c2 k k2",
        (("a.sources.s.selector.default", "leaves source s out"),),
        "two spaces",
        replace={**TWO_CHANNELS, "a.sources.s.channels = c": "a.sources.s.channels = c c2"},
        differential=True,
    ),
    Shape(
        "multiplexing-foreign-channel",
        "a.sources.s.selector.type = multiplexing\n"
        "a.sources.s.selector.header = h\na.sources.s.selector.mapping.x = c2",
        "removes the source (Selector channel not found)",
        "read: AbstractChannelSelector.getChannelListFromNames",
        "c c2 k k2",
        (("a.sources.s.selector.mapping.x", "leaves source s out"),),
        "not one of this source's channels",
        replace=TWO_CHANNELS,
    ),
    # ---- topology: Flume drops the broken piece and runs the rest ----
    Shape(
        "listed-undefined-channel",
        "",
        "removes channel c2 (ex3.3); the rest runs",
        "read: FlumeConfiguration.validateChannels",
        "s c k",
        (("a.channels", "channel 'c2', which is never configured"),),
        "never configured",
        replace={"a.channels = c": "a.channels = c c2"},
        differential=True,
    ),
    Shape(
        "listed-undefined-sink",
        "",
        "removes sink k2; the rest runs",
        "read: FlumeConfiguration.validateSinks",
        "s c k",
        (("a.sinks", "sink 'k2', which is never configured"),),
        "never configured",
        replace={"a.sinks = k": "a.sinks = k k2"},
    ),
    Shape(
        "listed-undefined-source",
        "",
        "removes source s2; the rest runs",
        "read: FlumeConfiguration.validateSources",
        "s c k",
        (("a.sources", "source 's2', which is never configured"),),
        "never configured",
        replace={"a.sources = s": "a.sources = s s2"},
    ),
    Shape(
        "sink-without-channel",
        "a.sinks.k2.type = null",
        "removes sink k2 ('No channel configured for sink')",
        "ran: Flume 1.11 here",
        "s c k",
        (("a.sinks.k2.type", "leaves sink k2 out"),),
        "channel is not set",
        replace={"a.sinks = k": "a.sinks = k k2"},
    ),
    Shape(
        "sink-unknown-channel",
        "a.sinks.k2.type = null\na.sinks.k2.channel = nope",
        "removes sink k2 ('Channel nope not in active set')",
        "read: FlumeConfiguration.validateSinks",
        "s c k",
        (("a.sinks.k2.channel", "leaves sink k2 out"),),
        "not defined",
        replace={"a.sinks = k": "a.sinks = k k2"},
    ),
    Shape(
        "source-extra-unknown-channel",
        "",
        "keeps the known channel c, drops nope",
        "read: FlumeConfiguration.validateSources (retainAll)",
        "s c k",
        (("a.sources.s.channels", "leaves out nope"),),
        "not defined",
        replace={"a.sources.s.channels = c": "a.sources.s.channels = c nope"},
        differential=True,
    ),
    Shape(
        "source-only-unknown-channel",
        "",
        "removes the source (No Channels configured)",
        "read: FlumeConfiguration.validateSources",
        "c k",
        (("a.sources.s.channels", "leaves source s out"),),
        "not defined",
        replace={"a.sources.s.channels = c": "a.sources.s.channels = nope"},
    ),
    Shape(
        "group-unknown-sink",
        "a.sinkgroups = g\na.sinkgroups.g.sinks = k k2 nope\n"
        "a.sinkgroups.g.processor.type = failover",
        "runs the group without nope ('sink not found ... sink not added')",
        "read: FlumeConfiguration.validGroupSinks",
        "s c g(k k2)",
        (("a.sinkgroups.g.sinks", "leaves out nope"),),
        "not defined",
        replace=TWO_SINKS,
        differential=True,
    ),
    Shape(
        "sink-in-two-groups",
        "a.sinkgroups = g g2\na.sinkgroups.g.sinks = k k2\n"
        "a.sinkgroups.g.processor.type = failover\na.sinkgroups.g2.sinks = k2 k3\n"
        "a.sinkgroups.g2.processor.type = failover",
        "keeps k2 in one group only ('in use by another group, sink not added')",
        "read: FlumeConfiguration.validGroupSinks",
        "s c g(k k2) g2(k3)",
        (("a.sinkgroups.g2.sinks", "already in sink group 'g'"),),
        "already in sink group",
        replace=THREE_SINKS,
        differential=True,
    ),
    Shape(
        "failover-duplicate-priority",
        "a.sinkgroups = g\na.sinkgroups.g.sinks = k k2\n"
        "a.sinkgroups.g.processor.type = failover\na.sinkgroups.g.processor.priority.k = 5\n"
        "a.sinkgroups.g.processor.priority.k2 = 5",
        "leaves one of the two out of the processor, and it never runs (here k: HashMap "
        "order); --lenient leaves out the later one listed",
        "ran: Flume 1.11 here",
        "s c g(k)",
        (("a.sinkgroups.g.processor.priority.k2", "the same as sink k's"),),
        "the same as sink k's",
        replace=TWO_SINKS,
        flume_runs="s c g(k2)",
    ),
    # ---- Flume refuses the whole config: so does --lenient ----
    Shape(
        "unknown-source-type",
        "",
        "stops at start: 'A fatal error occurred' (class sequ not found), nothing runs",
        "ran: Flume 1.11 here",
        "",
        (("a.sources.s.type", "refuses it too"),),
        "unknown source type",
        replace={"a.sources.s.type = seq": "a.sources.s.type = sequ"},
    ),
    Shape(
        "unknown-channel-type",
        "",
        "stops at start with a fatal error",
        "ran: Flume 1.11 here",
        "",
        (("a.channels.c.type", "refuses it too"),),
        "unknown channel type",
        replace={"a.channels.c.type = memory": "a.channels.c.type = memroy"},
    ),
    Shape(
        "unknown-sink-type",
        "",
        "stops at start with a fatal error",
        "ran: Flume 1.11 here",
        "",
        (("a.sinks.k.type", "refuses it too"),),
        "unknown sink type",
        replace={"a.sinks.k.type = null": "a.sinks.k.type = nul"},
    ),
    Shape(
        "group-without-sinks",
        "a.sinkgroups = g\na.sinkgroups.g.processor.type = failover",
        "stops at start with a fatal error (NullPointerException)",
        "ran: Flume 1.11 here",
        "",
        (("a.sinkgroups.g", "refuses it too"),),
        "lists no sinks",
    ),
    # ---- a sink group Flume cannot configure: removed, and its sinks do not run ----
    Shape(
        "default-group-two-sinks",
        "a.sinkgroups = g\na.sinkgroups.g.sinks = k k2",
        "removes the group; k and k2 do not run",
        "ran: Flume 1.11 here",
        "s c",
        (("a.sinkgroups.g.sinks", "leaves sink group g and its sink(s) k, k2 out"),),
        "exactly one sink",
        replace=TWO_SINKS,
    ),
    Shape(
        "load-balance-one-known-sink",
        "a.sinkgroups = g\na.sinkgroups.g.sinks = k nope\n"
        "a.sinkgroups.g.processor.type = load_balance",
        "drops nope, then removes the group (load_balance needs 2 sinks); k does not run",
        "ran: Flume 1.11 here",
        "s c",
        (
            ("a.sinkgroups.g.sinks", "leaves out nope"),
            ("a.sinkgroups.g.sinks", "leaves sink group g and its sink(s) k out"),
        ),
        "not defined",
    ),
    Shape(
        "load-balance-selector-typo",
        "a.sinkgroups = g\na.sinkgroups.g.sinks = k k2\n"
        "a.sinkgroups.g.processor.type = load_balance\na.sinkgroups.g.processor.selector = rondom",
        "removes the group ('Unable to instantiate sink selector'); k, k2 do not run",
        "ran: Flume 1.11 here",
        "s c",
        (("a.sinkgroups.g.processor.selector", "leaves sink group g and its sink(s) k, k2"),),
        "expected one of",
        replace=TWO_SINKS,
    ),
    Shape(
        "unknown-processor-type",
        "a.sinkgroups = g\na.sinkgroups.g.sinks = k k2\na.sinkgroups.g.processor.type = failovr",
        "removes the group; k, k2 do not run",
        "ran: Flume 1.11 here",
        "s c",
        (("a.sinkgroups.g.processor.type", "leaves sink group g and its sink(s) k, k2"),),
        "unknown processor type",
        replace=TWO_SINKS,
    ),
    Shape(
        "source-channels-empty",
        "",
        "ignores the empty value, then removes the source",
        "ran: Flume 1.11 here",
        "c k",
        (("a.sources.s.channels", "leaves source s out"),),
        "is empty",
        replace={"a.sources.s.channels = c": "a.sources.s.channels ="},
    ),
    # ---- ${...} in values ----
    Shape(
        "file-reference",
        "a.sinks.k.batchSize = ${a.sources.s.totalEvents}",
        "resolves a key of the file only if it came earlier in its HashMap order: here it "
        "left the text as written and removed the sink (NumberFormatException)",
        "ran: Flume 1.11 here",
        "s c k",
        (),
        "",
        flume_runs="s c",
    ),
    Shape(
        "unset-variable",
        "a.sinks.k.batchSize = ${NOPE_UNSET}",
        "leaves ${NOPE_UNSET} as written, then removes the sink (NumberFormatException)",
        "ran: Flume 1.11 here",
        "s c",
        (
            ("a.sinks.k.batchSize", "leaves it as written"),
            ("a.sinks.k.batchSize", "leaves sink k out"),
        ),
        "is neither a key of this file nor set in the environment",
    ),
    Shape(
        "channel-not-connected",
        "",
        "removes c2 ('no components connected')",
        "read: AbstractConfigurationProvider.getConfiguration",
        "s c k",
        (("a.channels.c2", "not connected"),),
        "",
        replace={
            "a.channels = c": "a.channels = c c2",
            "a.channels.c.type = memory": "a.channels.c.type = memory\na.channels.c2.type = memory",
        },
    ),
)
