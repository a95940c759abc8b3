"""The book's custom interceptor ``CollectDayInterceptor``, as a Python example.

Appends ``,yyyyMMdd`` (the day the agent collected the event, local time) to every body, as
the book's Java class does. Configured by import path (``agents.interceptors.collect_day.
CollectDayInterceptor``) or by the book's class name, which the registry maps here.
"""

from __future__ import annotations

import time

from agents.event import EventBatch
from agents.interceptors.base import Interceptor


class CollectDayInterceptor(Interceptor):
    TYPE = "agents.interceptors.collect_day.CollectDayInterceptor"

    def intercept(self, batch: EventBatch) -> EventBatch:
        suffix = time.strftime(",%Y%m%d").encode()
        return batch.with_bodies([body + suffix for body in batch.bodies])
