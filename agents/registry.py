"""Component types: Flume's aliases and class names mapped to our classes.

Aliases are matched case-insensitively (Flume upper-cases them into an enum); Flume's full
class names (``org.apache.flume.sink.kafka.KafkaSink``) name the same component. Any other
dotted name is a Python import path (``mypkg.module.Class``, ``$Builder`` dropped) for a
custom component, as Flume takes a class name.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agents.config.spec import suggest

if TYPE_CHECKING:
    from agents.component import Component

# kind -> alias -> "module:Class"
BUILTIN: dict[str, dict[str, str]] = {
    "source": {
        "spooldir": "agents.sources.spooldir:SpoolDirSource",
        "exec": "agents.sources.exec:ExecSource",
        "taildir": "agents.sources.taildir:TaildirSource",
        "avro": "agents.sources.avro:AvroSource",
        "netcat": "agents.sources.netcat:NetcatSource",
        "netcatudp": "agents.sources.netcatudp:NetcatUdpSource",
        "seq": "agents.sources.seq:SequenceSource",
        "http": "agents.sources.http:HttpSource",
        "syslogtcp": "agents.sources.syslogtcp:SyslogTcpSource",
        "syslogudp": "agents.sources.syslogudp:SyslogUdpSource",
        "multiport_syslogtcp": "agents.sources.multiport_syslogtcp:MultiportSyslogTcpSource",
    },
    "channel": {
        "memory": "agents.channels.memory:MemoryChannel",
        "file": "agents.channels.file:FileChannel",
    },
    "sink": {
        "logger": "agents.sinks.simple:LoggerSink",
        "file_roll": "agents.sinks.simple:RollingFileSink",
        "null": "agents.sinks.simple:NullSink",
        "kafka": "agents.sinks.kafka:KafkaSink",
        "avro": "agents.sinks.avro:AvroSink",
    },
    "interceptor": {
        "timestamp": "agents.interceptors.builtin:TimestampInterceptor",
        "host": "agents.interceptors.builtin:HostInterceptor",
        "static": "agents.interceptors.builtin:StaticInterceptor",
        "regex_filter": "agents.interceptors.builtin:RegexFilterInterceptor",
        "remove_header": "agents.interceptors.remove_header:RemoveHeaderInterceptor",
        "uuid": "agents.interceptors.uuid:UuidInterceptor",
        "search_replace": "agents.interceptors.search_replace:SearchReplaceInterceptor",
        "regex_extractor": "agents.interceptors.regex_extractor:RegexExtractorInterceptor",
    },
    "selector": {
        "replicating": "agents.channels.selectors:ReplicatingSelector",
        "multiplexing": "agents.channels.selectors:MultiplexingSelector",
    },
    "processor": {
        "default": "agents.sinks.processors:DefaultSinkProcessor",
        "failover": "agents.sinks.processors:FailoverSinkProcessor",
        "load_balance": "agents.sinks.processors:LoadBalancingSinkProcessor",
    },
}

FLUME_CLASSES: dict[str, tuple[str, str]] = {  # Flume class name -> (kind, alias)
    "org.apache.flume.source.SpoolDirectorySource": ("source", "spooldir"),
    "org.apache.flume.source.ExecSource": ("source", "exec"),
    "org.apache.flume.source.taildir.TaildirSource": ("source", "taildir"),
    "org.apache.flume.source.AvroSource": ("source", "avro"),
    "org.apache.flume.source.NetcatSource": ("source", "netcat"),
    "org.apache.flume.source.NetcatUdpSource": ("source", "netcatudp"),
    "org.apache.flume.source.SequenceGeneratorSource": ("source", "seq"),
    "org.apache.flume.source.http.HTTPSource": ("source", "http"),
    "org.apache.flume.source.SyslogTcpSource": ("source", "syslogtcp"),
    "org.apache.flume.source.SyslogUDPSource": ("source", "syslogudp"),
    "org.apache.flume.source.MultiportSyslogTCPSource": ("source", "multiport_syslogtcp"),
    "org.apache.flume.channel.MemoryChannel": ("channel", "memory"),
    "org.apache.flume.channel.file.FileChannel": ("channel", "file"),
    "org.apache.flume.sink.LoggerSink": ("sink", "logger"),
    "org.apache.flume.sink.RollingFileSink": ("sink", "file_roll"),
    "org.apache.flume.sink.NullSink": ("sink", "null"),
    "org.apache.flume.sink.kafka.KafkaSink": ("sink", "kafka"),
    "org.apache.flume.sink.AvroSink": ("sink", "avro"),
    "org.apache.flume.interceptor.TimestampInterceptor$Builder": ("interceptor", "timestamp"),
    "org.apache.flume.interceptor.HostInterceptor$Builder": ("interceptor", "host"),
    "org.apache.flume.interceptor.StaticInterceptor$Builder": ("interceptor", "static"),
    "org.apache.flume.interceptor.RegexFilteringInterceptor$Builder": (
        "interceptor",
        "regex_filter",
    ),
    "org.apache.flume.interceptor.RemoveHeaderInterceptor$Builder": (
        "interceptor",
        "remove_header",
    ),
    "org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder": ("interceptor", "uuid"),
    "org.apache.flume.interceptor.SearchAndReplaceInterceptor$Builder": (
        "interceptor",
        "search_replace",
    ),
    "org.apache.flume.interceptor.RegexExtractorInterceptor$Builder": (
        "interceptor",
        "regex_extractor",
    ),
    "org.apache.flume.channel.ReplicatingChannelSelector": ("selector", "replicating"),
    "org.apache.flume.channel.MultiplexingChannelSelector": ("selector", "multiplexing"),
    "org.apache.flume.sink.DefaultSinkProcessor": ("processor", "default"),
    "org.apache.flume.sink.FailoverSinkProcessor": ("processor", "failover"),
    "org.apache.flume.sink.LoadBalancingSinkProcessor": ("processor", "load_balance"),
}

# The book's custom Java interceptor, provided here as a Python example with the same output.
KNOWN_CUSTOM: dict[str, str] = {
    "com.wikibook.bigdata.smartcar.flume.CollectDayInterceptor$Builder": (
        "agents.interceptors.collect_day:CollectDayInterceptor"
    ),
}

# Flume types this agent does not provide, with what to use instead.
NOT_PROVIDED: dict[str, str] = {
    "hdfs": "this lab has no HDFS; use file_roll (the pilot's ex4.2 config does)",
    "thrift": "not provided; agents talk Flume's Avro RPC (avro source and sink)",
    "jdbc": "not provided; use the durable file channel",
    "hbase": "not provided yet",
    "jms": "not provided yet",
    "kafka_channel": "not provided yet; use the file channel in front of a kafka sink",
    "spillablememory": "not provided; use the file channel",
    "load_balancing": "the load_balancing channel selector is not provided; use replicating or "
    "multiplexing, or a load_balance sink group",
}


@dataclass(frozen=True)
class Resolved:
    cls: type[Component] | None
    alias: str | None
    error: str | None = None
    suggestion: str | None = None


def resolve(kind: str, type_name: str) -> Resolved:
    """The class for a ``type`` value of a component of *kind*, or why there is none."""
    name = type_name.strip()
    table = BUILTIN[kind]
    flume_kind, alias = FLUME_CLASSES.get(name, (kind, name.lower()))
    if flume_kind != kind:
        return Resolved(None, None, f"{name!r} is a Flume {flume_kind}, not a {kind}")
    if alias in table:
        return Resolved(_load(table[alias]), alias)
    if name in KNOWN_CUSTOM:
        return Resolved(_load(KNOWN_CUSTOM[name]), None)
    if alias in NOT_PROVIDED or alias.replace("org.apache.flume.", "") in NOT_PROVIDED:
        return Resolved(
            None,
            None,
            f"type {name!r} is a Flume {kind} this agent does not provide",
            NOT_PROVIDED.get(alias),
        )
    if "." in name or ":" in name:
        return _import_custom(kind, name)
    return Resolved(
        None,
        None,
        f"unknown {kind} type {name!r}",
        suggest(name, list(table)) or f"known {kind} types: {', '.join(sorted(table))}",
    )


def _load(target: str) -> type[Component]:
    module, _, attr = target.partition(":")
    cls: type[Component] = getattr(importlib.import_module(module), attr)
    return cls


def _import_custom(kind: str, name: str) -> Resolved:
    path = name.removesuffix("$Builder")
    module, sep, attr = path.partition(":")
    if not sep:
        module, _, attr = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        return Resolved(
            None,
            None,
            f"cannot import {kind} class {name!r}: {exc}",
            "a custom component is named by its Python import path, "
            "e.g. mypkg.module.MyInterceptor, importable by the agent",
        )
    except AttributeError:
        return Resolved(None, None, f"module {module!r} has no class {attr!r}")
    return Resolved(cls, None)
