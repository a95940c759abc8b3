"""Interceptor contract: a batch in, a batch out (possibly smaller, possibly rewritten).

Custom interceptors are any class with this shape, named by Python import path in the
``type`` property (``mypkg.module.MyInterceptor``), the way Flume takes a Builder class name.
"""

from __future__ import annotations

from agents.component import Component
from agents.event import EventBatch


class Interceptor(Component):
    KIND = "INTERCEPTOR"

    def intercept(self, batch: EventBatch) -> EventBatch:
        raise NotImplementedError
