"""A process that puts and takes on a file channel until it is killed (for the SIGKILL test).

argv: DIR NEXT_ID SEED FSYNC(1|0). Prints one line per step, written before the step's
commit starts ("P first last" / "T id,id,...") and after it returned ("OK"), so the test
knows which transactions were committed and which one, at most, was cut by the kill.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

from agents.channels.filelog import FileChannelConfig, FileChannelStore
from agents.event import EventBatch


def say(line: str) -> None:
    os.write(1, (line + "\n").encode())


def config(root: Path, fsync: bool) -> FileChannelConfig:
    return FileChannelConfig(
        root / "checkpoint", (root / "data1", root / "data2"), capacity=50_000,
        transaction_capacity=50_000, checkpoint_interval=0.05, max_file_size=64 * 1024,
        minimum_required_space=0, use_dual_checkpoints=True,
        backup_checkpoint_dir=root / "backup", fsync_per_transaction=fsync,
    )  # fmt: skip


def main() -> None:
    root, next_id, seed, fsync = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    rng = random.Random(seed)
    store = FileChannelStore(config(root, fsync == "1"), "killme")
    store.open()
    say("READY")
    while True:
        if rng.random() < 0.55 or store.size() == 0:
            n = rng.randint(1, 300)
            ids = range(next_id, next_id + n)
            batch = EventBatch([b"%09d-" % i + b"x" * 90 for i in ids], {"seed": str(seed)})
            tx = store.transaction()
            tx.put(batch)
            say(f"P {ids[0]} {ids[-1]}")
            tx.commit()
            say("OK")
            next_id += n
        else:
            tx = store.transaction()
            got = tx.take(rng.randint(1, 400))
            if rng.random() < 0.2:
                tx.rollback()
                continue
            say("T " + ",".join(str(int(b[:9])) for b in got.bodies))
            tx.commit()
            say("OK")


if __name__ == "__main__":
    main()
