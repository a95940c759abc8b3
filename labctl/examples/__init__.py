"""The seed's four Flume architectures as runnable examples (``labctl example list|run``).

Each is an ``Example`` (``base.py``): it starts its agents in the lab (processes or
containers, as the lab's backend runs them) from configs shipped in ``conf/``, feeds them
the simulator's files, breaks what the architecture is about (a broker, an aggregator) and
checks what arrived. docs/examples/flume-N.md draws each.
"""

from labctl.examples.base import Example, Scale
from labctl.examples.flume1 import Flume1
from labctl.examples.flume2 import Flume2
from labctl.examples.flume3 import Flume3
from labctl.examples.flume4 import Flume4

EXAMPLES: dict[str, Example] = {e.name: e for e in (Flume1(), Flume2(), Flume3(), Flume4())}

__all__ = ["EXAMPLES", "Example", "Scale"]
