"""seq: 0..totalEvents-1 in batches, none skipped or repeated, even through a full channel."""

from pathlib import Path

from tests.agents.agent_helpers import running, take_all, wait_for


def test_numbers_in_order_through_a_small_channel(tmp_path: Path) -> None:
    conf = (
        "a.sources = s\na.channels = c\na.sources.s.type = org.apache.flume.source."
        "SequenceGeneratorSource\na.sources.s.totalEvents = 2500\na.sources.s.batchSize = 100\n"
        "a.sources.s.channels = c\na.channels.c.type = memory\na.channels.c.capacity = 300\n"
        "a.channels.c.keep-alive = 0\n"
    )
    with running(conf, state_dir=tmp_path) as agent:
        source, channel = agent.sources["s"], agent.channels["c"]
        got = [int(b) for _ in range(25) for b in take_all(channel, 100).bodies]
        assert wait_for(lambda: source.counters.get("EventAcceptedCount") == 2500)
        assert channel.size() == 0
    assert got == list(range(2500))
    assert source.counters.get("ChannelWriteFail") > 0  # the channel did fill up
    # issue 23 item 6: as Flume's seq, nothing is counted as received from outside
    assert source.counters.get("EventReceivedCount") == 0
    assert source.counters.get("AppendBatchReceivedCount") == 0
