"""The ceilings, each one program that produces the file and exits: kcat (C) and the bare
confluent-kafka loop (Python)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import psutil

from bench.dayfile import DayFile
from bench.lab import Topics
from bench.meter import Measurement, cpu_seconds, reap
from bench.systems.base import ROOT, Job, System, exited, spawn, stop, tail

# The same librdkafka settings as our agent's Kafka sink and rsyslog's omkafka.
PRODUCER = {"acks": "1", "linger.ms": "5", "queue.buffering.max.messages": "1000000"}


class Kcat(System):
    key = "kcat"
    label = "kcat -P, pre-filtered file (C ceiling)"

    def problem(self) -> str | None:
        if shutil.which("kcat") is None:
            return "kcat is not installed (make bench-peers: Debian's kcat)"
        return None

    def measure(self, job: Job) -> Measurement:
        settings = [arg for k, v in PRODUCER.items() for arg in ("-X", f"{k}={v}")]
        argv = [
            "kcat",
            "-P",
            "-b",
            job.bootstrap,
            "-t",
            job.topic,
            *settings,
            "-l",
            str(job.day.records_path),
        ]
        log = job.work / "kcat.log"
        began = time.perf_counter()
        proc = spawn(argv, log)
        try:
            ended = job.topics.wait_for(job.topic, job.day.records, exited(proc, log))
            cpu, rss = reap(proc, 60)
        finally:
            stop(proc)
        if proc.returncode:
            raise RuntimeError(f"kcat exited with {proc.returncode}: {tail(log)}")
        return Measurement(job.day.records, ended - began, cpu, rss)


class PythonLoop(System):
    key = "python"
    label = "bare confluent-kafka loop (Python ceiling)"

    def measure(self, job: Job) -> Measurement:
        argv = [sys.executable, "-m", "bench.ceiling", job.bootstrap, job.topic, str(job.day.path)]
        log = job.work / "ceiling.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = spawn(argv, log, env, talk=True)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            if proc.stdout.readline().strip() != b"ready":
                raise RuntimeError(f"the loop did not start: {tail(log)}")
            cpu0 = cpu_seconds(psutil.Process(proc.pid))
            began = time.perf_counter()
            proc.stdin.write(b"go\n")
            proc.stdin.close()
            ended = job.topics.wait_for(job.topic, job.day.records, exited(proc, log))
            cpu, rss = reap(proc, 60)
        finally:
            stop(proc)
        if proc.returncode:
            raise RuntimeError(f"the loop exited with {proc.returncode}: {tail(log)}")
        return Measurement(job.day.records, ended - began, cpu - cpu0, rss)


def warm_up(topics: Topics, day: DayFile, work: Path, partitions: int = 1) -> None:
    """Send the day once, untimed, so that no measured system meets a cold broker (its JIT,
    its page cache); the topic is deleted after."""
    topic = topics.create("warm-up", partitions)
    folder = work / "warm-up"
    folder.mkdir()
    try:
        PythonLoop().measure(Job(topics, topic, day, folder, topics.cluster.spec.bootstrap))
    finally:
        topics.delete(topic)
