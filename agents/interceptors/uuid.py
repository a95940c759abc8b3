"""Flume's UUID interceptor (``org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder``):
a unique id per event, in header ``headerName``, prefixed by ``prefix``; an event that already
has the header keeps it (``preserveExisting``, default true). Ids are random (UUID 4).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from agents.config.settings import Settings, prop
from agents.event import EventBatch
from agents.interceptors.base import Interceptor


@dataclass(frozen=True, kw_only=True)
class UuidSettings(Settings):
    header_name: str = prop("headerName", "str", "id", "Header to set.")
    preserve_existing: bool = prop(
        "preserveExisting", "bool", True, "Keep an id an event already has."
    )
    prefix: str = prop("prefix", "str", "", "Text put before each id.")


class UuidInterceptor(Interceptor):
    TYPE = "uuid"
    SETTINGS = UuidSettings
    PROPERTIES = UuidSettings.props()
    settings: UuidSettings

    def intercept(self, batch: EventBatch) -> EventBatch:
        key, prefix = self.settings.header_name, self.settings.prefix
        if self.settings.preserve_existing and key in batch.common:
            return batch  # every event has it
        headers = batch.per_event()
        keep = self.settings.preserve_existing
        for h in headers:
            if not (keep and key in h):
                h[key] = prefix + str(uuid.uuid4())
        return batch
