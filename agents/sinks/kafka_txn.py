"""The Kafka sink's exactly-once mode (``exactlyOnce = true``): one Kafka transaction a batch.

Each batch taken from the channel is written in one producer transaction under a stable
``transactional.id``, together with one record per stream it came from, on the positions topic
(``agents.committed``): the offset its last event written starts at. The channel transaction
is committed only once Kafka committed, so a source's read position (acks, ``agents.acks``)
never gets ahead of Kafka. Before its first transaction the sink's producer fences every
earlier producer with its ``transactional.id`` (an agent killed, a zombie, a failed
aggregator): their open transaction is aborted, nothing of theirs can be committed after, and
the positions committed so far are read (``read_committed``); what the sink then takes again
at or below its stream's position (read again after a crash, replayed by a file channel, sent
again by a collector) is dropped, counted in ``DuplicateDropCount``.

Errors, as Kafka Connect's exactly-once source tasks handle them (KIP-618):

- a commit that timed out is tried again (it may have gone through: only Kafka knows);
- an error that makes the transaction abortable (a record refused, a transaction timed out,
  the coordinator gone and not back in time) aborts it; the same batch is written again in a
  new transaction after a growing pause (0.1 s up to 5 s), the channel transaction still open
  (order kept, nothing lost, nothing committed twice). A record refused for good (too large, an
  unknown topic, not authorised) is left out of the next attempt and set aside in the
  dead-letter file once that attempt committed;
- a transaction open longer than ``transaction.timeout.ms`` is aborted by Kafka, which bumps
  the producer's epoch (librdkafka then says "fenced", as below): a new producer reads the
  positions and writes the batches again;
- fenced (another producer took the ``transactional.id``): the batch is rolled back and
  ``FencedError`` stops the agent, which exits 3 with one log line;
- any other fatal error: ``FatalError`` stops this sink for good; its health says why.

The producer is created, and fences, when the sink starts if a source of the agent resumes from
its positions, else (an aggregator behind an avro source, a standby) at its first batch: a
standby that never receives anything never fences the aggregator it stands by for.

``AGENTS_EOS_HOLD`` (tests): when it names a file that exists, the sink stops between producing
a batch (records sent, visible to read_uncommitted readers) and committing it, writes
``<file>.held``, and waits while the file exists: the window a SIGKILL must not break.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import itemgetter, lt
from typing import Any, Protocol

import confluent_kafka as ck

from agents.channels.base import Channel, Transaction
from agents.committed import Committed, ensure_topic, read_positions, record_key, record_value
from agents.component import Status
from agents.counters import Counters
from agents.errors import FatalError, FencedError
from agents.event import EventBatch
from agents.sinks.deadletter import DeadLetters
from agents.sinks.kafka_producer import BatchProducer, Tracker
from agents.sinks.kafka_settings import KafkaSinkSettings

IDLE_WAIT = 0.5  # s the first take of a transaction waits for events (a put wakes it)


class Host(Protocol):
    """What the writer uses of its Kafka sink."""

    name: str
    settings: KafkaSinkSettings
    counters: Counters
    log: logging.Logger
    channel: Channel | None
    producer_conf: dict[str, Any]

    def on_error(self, code: int, text: str) -> None: ...
    def dead_letters(self) -> DeadLetters: ...


INIT_TIMEOUT = 30.0  # s for init_transactions, creating the positions topic, reading it
COMMIT_TIMEOUT = 10.0  # s per commit_transaction / abort_transaction call (retried)
HOLD_ENV = "AGENTS_EOS_HOLD"
FENCED = frozenset(
    getattr(ck.KafkaError, n)
    for n in ("_FENCED", "PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH")
    if hasattr(ck.KafkaError, n)
)
_quiet = logging.getLogger("agents.librdkafka.txn")  # librdkafka's own lines: errors come via
_quiet.propagate = False  # error_cb, and a fenced zombie says so in one line of ours
_quiet.addHandler(logging.NullHandler())


@dataclass
class _Pending:
    """The batches of one Kafka transaction: taken, not yet committed in Kafka (kept across
    aborted attempts, their channel transactions open)."""

    txs: list[Transaction] = field(default_factory=list)
    batches: list[EventBatch] = field(default_factory=list)  # the events not written before
    positions: dict[str, int] = field(default_factory=dict)  # origin -> last event's start
    aside: Counter[tuple[str, bytes]] = field(default_factory=Counter)  # refused for good
    refused: list[tuple[str, bytes, str]] = field(default_factory=list)  # ... and why
    started: float = field(default_factory=time.monotonic)
    full: bool = False  # the last batch taken was a full one: the channel may hold more

    @property
    def events(self) -> int:
        return sum(map(len, self.batches))


class TransactionalWriter:
    """The sink's loop in exactly-once mode (see the module's doc)."""

    def __init__(self, sink: Host, tid: str, topic: str) -> None:
        self.sink = sink
        self.tid = tid
        self.topic = topic
        self.committed = Committed(tid)
        self.eager = False  # a source resumes from our positions: fence at start
        self._producer: BatchProducer | None = None
        self._pending: _Pending | None = None
        self._open = False  # a Kafka transaction is begun and not ended
        self._began = 0.0  # when it began
        self._failures = 0
        self._cooldown_until = 0.0
        self._unmarked_told = False
        self._stopping = threading.Event()  # the agent stops: no more commit or abort retries

    # lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self._failures = 0
        self._cooldown_until = 0.0
        self._stopping.clear()
        if self.eager:
            self._init()

    def _init(self) -> None:
        """A producer that fenced its predecessors, and the positions they committed."""
        sink = self.sink
        conf = {**sink.producer_conf, "transactional.id": self.tid, "acks": "all",
                "logger": _quiet}  # fmt: skip
        producer = BatchProducer(conf, sink.settings, self._on_error)
        try:
            producer.producer.init_transactions(INIT_TIMEOUT)
            made = ensure_topic(conf, self.topic, INIT_TIMEOUT)
            if made:
                sink.log.info("%s", made)
            positions = read_positions(conf, self.topic, self.tid, INIT_TIMEOUT, self._waiting)
        except ck.KafkaException as exc:
            _close(producer)
            err = exc.args[0]
            if isinstance(err, ck.KafkaError) and err.fatal():
                self._fatal(f"cannot start transactions: {err.str()}")
            raise RuntimeError(f"cannot start transactions: {_text(exc)}") from exc
        except BaseException:
            _close(producer)
            raise
        self._producer = producer
        self.committed.load(positions)
        sink.counters.add("ConnectionCreatedCount")
        sink.log.info("exactly-once: transactional.id %s fenced its predecessors; %d stream "
                      "position(s) committed in %s", self.tid, len(positions),
                      self.topic)  # fmt: skip

    def _waiting(self, where: str) -> None:
        self.sink.log.warning("reading the positions in %s waits for a transaction another "
                              "producer left open (%s)", self.topic, where)  # fmt: skip

    def _on_error(self, code: int, text: str) -> None:
        if code in FENCED or code == ck.KafkaError._FATAL:
            return  # said once, by whoever hits it
        self.sink.on_error(code, text)

    def interrupt(self) -> None:
        """From another thread: the agent stops; a commit or abort waiting on Kafka gives up
        (the transaction stays open until the next producer with our id fences it, or Kafka
        times it out; the channel keeps the batches)."""
        self._stopping.set()

    def stop(self) -> None:
        """Abort what is open; the channel keeps the batch."""
        pending, self._pending = self._pending, None
        if self._open and self._producer is not None:
            try:
                self._producer.producer.abort_transaction(COMMIT_TIMEOUT)
            except ck.KafkaException as exc:
                self.sink.log.warning("could not abort the open transaction (%s); Kafka aborts "
                                      "it when it times out", _text(exc))  # fmt: skip
            self._open = False
        if pending is not None:
            for tx in reversed(pending.txs):
                tx.rollback()
                tx.close()
            self.sink.counters.add("RollbackCount")
        producer, self._producer = self._producer, None
        if producer is not None:
            _close(producer)
            self.sink.counters.add("ConnectionClosedCount")
        self.committed.unload()

    def backoff_pause(self) -> float:
        return self._cooldown_until - time.monotonic()

    # the loop -------------------------------------------------------------------------------
    def process(self) -> Status:
        """One Kafka transaction: batches taken while the channel has full ones (up to
        ``maxInFlightBatches``), each produced as it is taken, then committed; or, after an
        abort, the same batches again once the pause is over."""
        pending = self._pending
        if pending is not None:  # aborted before: the same batches again
            if time.monotonic() < self._cooldown_until:
                return Status.BACKOFF
            if self._producer is None:  # its transaction timed out: a new producer
                self._init()
                self._refilter(pending)
            self._attempt(pending, pending.batches)
        else:
            pending = _Pending()
            status = self._take(pending, IDLE_WAIT)
            if not pending.txs:
                return status
            self._pending = pending
            self._attempt(pending, None)
        if self._pending is not None:  # aborted: written again after the pause
            return Status.BACKOFF
        c = self.sink.counters
        c.add("EventDrainSuccessCount", pending.events - len(pending.refused))
        c.add("KafkaEventSendTimer", int((time.monotonic() - pending.started) * 1000))
        return Status.READY

    def _take(self, pending: _Pending, wait: float) -> Status:
        """Take one batch into *pending* (nothing if the channel had none)."""
        sink = self.sink
        channel = sink.channel
        assert channel is not None
        tx = channel.transaction()
        began = time.monotonic()
        try:
            batch = tx.take(sink.settings.flume_batch_size, wait)
        except Exception as exc:
            tx.close()
            sink.counters.add("ChannelReadFail")
            sink.counters.error(str(exc))
            sink.log.error("cannot take from channel %s: %s", channel.name, exc)
            return Status.BACKOFF
        n = len(batch)
        if not n:
            tx.commit()
            tx.close()
            if not pending.txs:
                sink.counters.add("BatchEmptyCount")
            return Status.READY if time.monotonic() - began >= wait * 0.9 else Status.BACKOFF
        if self._producer is None:  # the first batch: fence, read the positions (lazily: a
            try:  # standby aggregator that never gets a batch never fences the active one)
                self._init()
            except BaseException:
                tx.rollback()
                tx.close()
                raise
        c = sink.counters
        c.add("EventDrainAttemptCount", n)
        pending.full = n == sink.settings.flume_batch_size
        c.add("BatchCompleteCount" if pending.full else "BatchUnderflowCount")
        kept, positions = self._new_only(batch, pending.positions)
        if len(kept) < n:
            c.add("DuplicateDropCount", n - len(kept))
        pending.txs.append(tx)
        pending.batches.append(kept)
        pending.positions.update(positions)
        return Status.READY

    def _new_only(
        self, batch: EventBatch, before: Mapping[str, int]
    ) -> tuple[EventBatch, dict[str, int]]:
        """The events not written before (at or below their stream's position: committed,
        or in *before*, this transaction's so far), and each stream's last position."""
        marks = batch.marks
        if marks is None:
            if not self._unmarked_told:
                self._unmarked_told = True
                self.sink.log.warning("events without a read position reach this exactly-once "
                                      "sink: they are written at least once (their source "
                                      "cannot be replayed)")  # fmt: skip
            return batch, {}
        committed = self.committed.get

        def get(origin: str) -> int | None:
            return before.get(origin, committed(origin))

        origins = set(map(itemgetter(0), marks))
        offsets = list(map(itemgetter(1), marks))
        if len(origins) == 1 and "" not in origins and all(map(lt, offsets, offsets[1:])):
            # one stream, in order (two copies of it back to back, a replay and a re-read,
            # are not: they take the loop below): cut at its position
            (origin,) = origins
            done = get(origin)
            if done is None or offsets[0] > done:
                return batch, {origin: offsets[-1]}
            cut = bisect_right(offsets, done)
            if cut == len(marks):
                return batch.slice(0, 0), {}
            return batch.slice(cut, len(marks)), {origin: offsets[-1]}
        keep: list[int] = []
        positions: dict[str, int] = {}
        for i, (origin, position) in enumerate(marks):
            if not origin:
                keep.append(i)
                continue
            last = positions.get(origin)
            if last is None:
                done = get(origin)
                last = -1 if done is None else done
            if position > last:
                keep.append(i)
                positions[origin] = position
        if len(keep) == len(marks):
            return batch, positions
        return batch.select(keep), positions

    def _attempt(self, pending: _Pending, again: list[EventBatch] | None) -> None:
        """Begin, produce (*again*: these batches; None: take more while full ones come),
        commit. Leaves ``_pending`` set if the transaction was aborted."""
        assert self._producer is not None
        sink = self.sink
        producer = self._producer.producer
        tracker = Tracker()
        try:
            if again is None:
                self._send(pending, pending.batches[0], tracker)
                while pending.full and len(pending.txs) < sink.settings.max_in_flight_batches:
                    count = len(pending.txs)
                    self._take(pending, 0)
                    if len(pending.txs) == count:
                        break
                    self._send(pending, pending.batches[-1], tracker)
            else:
                for batch in again:
                    self._send(pending, batch, tracker)
            if not self._open and not pending.positions:
                self._done(pending)  # nothing new to write: every event was written before
                return
            if not self._open:
                producer.begin_transaction()
                self._open, self._began = True, time.monotonic()
            for origin, position in pending.positions.items():
                self._producer.produce_raw(self.topic, record_value(position),
                                           record_key(self.tid, origin))  # fmt: skip
            _hold(producer)
            self._commit(producer)
        except ck.KafkaException as exc:
            self._failed(pending, exc, tracker)
            return
        except Exception as exc:
            # A fatal error (fenced) during flush or commit can surface as a SystemError from
            # inside a delivery callback, the KafkaException as its cause.
            cause = exc.__cause__
            if not isinstance(cause, ck.KafkaException):
                with contextlib.suppress(Exception):
                    self._producer.poll(0)  # hear the error callback
                code = self._producer.fatal_code()
                if code is None:
                    raise
                cause = ck.KafkaException(ck.KafkaError(code, str(exc), fatal=True))
            self._failed(pending, cause, tracker)
            return
        self._open = False
        pending.refused += tracker.failed  # refused at once (too large): never in the transaction
        self._done(pending)

    def _send(self, pending: _Pending, batch: EventBatch, tracker: Tracker) -> None:
        """Produce *batch* in the transaction (begun with the first records)."""
        if not batch:
            return
        assert self._producer is not None
        if not self._open:
            self._producer.producer.begin_transaction()
            self._open, self._began = True, time.monotonic()
        if pending.aside:
            batch = _without(self._producer, batch, pending.aside)
        self._producer.send(batch, tracker)

    def _commit(self, producer: ck.Producer) -> None:
        """commit_transaction, again while it times out (it may have gone through)."""
        while True:
            try:
                producer.commit_transaction(COMMIT_TIMEOUT)
                return
            except ck.KafkaException as exc:
                err = exc.args[0]
                if (not err.retriable() or err.txn_requires_abort() or err.fatal()
                        or self._stopping.is_set()):  # fmt: skip
                    raise
                self.sink.log.warning("committing a transaction: %s; trying again",
                                      err.str())  # fmt: skip

    def _done(self, pending: _Pending) -> None:
        """Kafka committed: the positions advance, the channel transactions commit."""
        self.committed.update(pending.positions)
        for topic, value, why in pending.refused:
            self.sink.dead_letters().put(topic, value, why)
        for tx in pending.txs:
            tx.commit()
            tx.close()
        self._pending = None
        self._failures = 0
        self.sink.counters.add("TransactionCommitCount")

    def _failed(self, pending: _Pending, exc: ck.KafkaException, tracker: Tracker) -> None:
        err = exc.args[0]
        sink = self.sink
        code = err.code() if isinstance(err, ck.KafkaError) else None
        fatal = isinstance(err, ck.KafkaError) and err.fatal()
        if (code in FENCED or (fatal and self._fenced())) and self._timed_out():
            self._expired(pending)
            return
        if code in FENCED or (fatal and self._fenced()):
            self._give_up(pending)
            why = (f"sink {sink.name}: fenced: another producer with transactional.id "
                   f"{self.tid} took over (a second agent, or a restarted one); this agent "
                   "stops and its batch stays uncommitted")  # fmt: skip
            self.committed.fail(why)
            raise FencedError(why)
        if fatal:
            self._give_up(pending)
            self._fatal(err.str())
        for topic, value, why in tracker.failed:  # refused for good: left out next time
            pending.aside[(topic, value)] += 1
            pending.refused.append((topic, value, why))
        self._abort()
        self._failures += 1
        pause = min(0.1 * 2 ** (self._failures - 1), 5.0)
        self._cooldown_until = time.monotonic() + pause
        reason = _text(exc)
        if tracker.failed:
            reason += f"; {len(tracker.failed)} record(s) refused for good are left out"
        c = sink.counters
        c.add("EventWriteFail")
        c.add("TransactionAbortCount")
        c.add("RollbackCount")
        c.error(reason)
        sink.log.error("kafka transaction aborted (%s); writing its %d events again in %.1f s",
                       reason, pending.events, pause)  # fmt: skip

    def _timed_out(self) -> bool:
        """Was the transaction open longer than transaction.timeout.ms? Then the coordinator
        aborted it and bumped the epoch, which librdkafka reports as fenced too."""
        limit = float(self.sink.producer_conf.get("transaction.timeout.ms", 60_000)) / 1000
        return self._open and time.monotonic() - self._began >= limit

    def _expired(self, pending: _Pending) -> None:
        """The transaction timed out: a new producer (fencing its own old self) writes the
        same batches again, less what the positions it then reads say was written."""
        self._open = False
        producer, self._producer = self._producer, None
        if producer is not None:
            _close(producer)
        self.committed.unload()
        self._failures += 1
        pause = min(0.1 * 2 ** (self._failures - 1), 5.0)
        self._cooldown_until = time.monotonic() + pause
        c = self.sink.counters
        c.add("EventWriteFail")
        c.add("TransactionAbortCount")
        c.add("RollbackCount")
        limit = self.sink.producer_conf.get("transaction.timeout.ms", 60_000)
        c.error(f"a transaction outlived transaction.timeout.ms ({limit} ms)")
        self.sink.log.error("kafka transaction aborted: it was open longer than "
                            "transaction.timeout.ms (%s ms) and Kafka aborted it; writing its "
                            "%d events again with a new producer in %.1f s", limit,
                            pending.events, pause)  # fmt: skip

    def _refilter(self, pending: _Pending) -> None:
        """After a new producer read the committed positions: drop again what they cover."""
        positions: dict[str, int] = {}
        batches = []
        for batch in pending.batches:
            kept, more = self._new_only(batch, positions)
            positions.update(more)
            batches.append(kept)
        pending.batches, pending.positions = batches, positions

    def _abort(self) -> None:
        """abort_transaction, again while it times out; a fatal error while aborting stops."""
        assert self._producer is not None
        producer = self._producer.producer
        while self._open:
            try:
                producer.abort_transaction(COMMIT_TIMEOUT)
                self._open = False
            except ck.KafkaException as exc:
                err = exc.args[0]
                if err.fatal():
                    self._open = False
                    if err.code() in FENCED:
                        raise FencedError(f"sink {self.sink.name}: fenced while aborting: "
                                          f"another producer with transactional.id {self.tid} "
                                          "took over; this agent stops") from exc  # fmt: skip
                    self._fatal(err.str())
                if not err.retriable():  # no transaction in progress after all
                    self._open = False
                    return
                if self._stopping.is_set():  # left open: fenced by our next producer
                    return
                self.sink.log.warning("aborting a transaction: %s; trying again", err.str())

    def _fenced(self) -> bool:
        """Is the producer's fatal error a fencing?"""
        assert self._producer is not None
        return self._producer.fatal_code() in FENCED

    def _give_up(self, pending: _Pending) -> None:
        self._open = False
        self._pending = None
        for tx in reversed(pending.txs):  # newest first: the channel keeps its order
            tx.rollback()
            tx.close()
        self.sink.counters.add("RollbackCount")

    def _fatal(self, why: str) -> None:
        text = f"sink {self.sink.name}: fatal Kafka error, the sink stops: {why}"
        self.committed.fail(text)
        raise FatalError(text)


def _hold(producer: ck.Producer) -> None:
    """The test hook (see the module's doc)."""
    hold = os.environ.get(HOLD_ENV)
    if not hold or not os.path.exists(hold):
        return
    producer.flush(COMMIT_TIMEOUT)  # the records are in Kafka, the transaction open
    with open(hold + ".held", "w") as fh:
        fh.write(str(os.getpid()))
    while os.path.exists(hold):
        time.sleep(0.01)


def _without(
    producer: BatchProducer, batch: EventBatch, aside: Mapping[tuple[str, bytes], int]
) -> EventBatch:
    """*batch* less the records refused for good (matched by topic and value)."""
    left = Counter(aside)
    keep = []
    for i in range(len(batch)):
        key = producer.topic_and_value(batch, i)
        if left.get(key):
            left[key] -= 1
            continue
        keep.append(i)
    return batch.select(keep)


def _close(producer: BatchProducer) -> None:
    with contextlib.suppress(ck.KafkaException):  # fenced or fatal: nothing to flush
        producer.close(1)


def _text(exc: BaseException) -> str:
    err = exc.args[0] if exc.args else None
    return err.str() if isinstance(err, ck.KafkaError) else str(exc)
