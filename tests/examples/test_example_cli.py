"""`labctl example list|run`: what a user sees, and a clear error for a wrong name."""

from pathlib import Path

from tests.labctl.test_cli import labctl


def test_list_names_every_example_and_its_seed_figure() -> None:
    result = labctl("example", "list")
    text = " ".join(result.stdout.split())
    assert result.returncode == 0
    for n in range(1, 5):
        assert f"flume-{n}" in text and f"architecture {n}" in text


def test_an_unknown_example_is_a_usage_error(tmp_path: Path) -> None:
    result = labctl("example", "run", "flume-9", "--home", str(tmp_path))
    assert result.returncode == 2 and "choose one of flume-1, flume-2" in result.stderr
