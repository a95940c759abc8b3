"""Flume's UUID interceptor (``org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder``):
a unique id per event, in header ``headerName``, prefixed by ``prefix``; an event that already
has the header keeps it (``preserveExisting``, default true). Ids are random (UUID 4).
"""

from __future__ import annotations

import uuid

from agents.config.spec import Prop
from agents.event import EventBatch
from agents.interceptors.base import Interceptor


class UuidInterceptor(Interceptor):
    TYPE = "uuid"
    PROPERTIES = (
        Prop("headerName", "str", "id", "Header to set."),
        Prop("preserveExisting", "bool", True, "Keep an id an event already has."),
        Prop("prefix", "str", "", "Text put before each id."),
    )

    def intercept(self, batch: EventBatch) -> EventBatch:
        key, prefix = self.conf["headerName"], self.conf["prefix"]
        if self.conf["preserveExisting"] and key in batch.common:
            return batch  # every event has it
        headers = batch.per_event()
        keep = self.conf["preserveExisting"]
        for h in headers:
            if not (keep and key in h):
                h[key] = prefix + str(uuid.uuid4())
        return batch
