"""How big a bench run is: ``--quick`` trades the 100-car day and three rounds for a try-out."""

from __future__ import annotations

from dataclasses import dataclass

FULL_CARS, QUICK_CARS = 100, 10  # 2,160,100 and 216,010 records


@dataclass(frozen=True)
class Options:
    quick: bool = False
    rounds: int = 3  # peers: every system once per round, medians over rounds
    only: tuple[str, ...] = ()  # peers: these systems only (our agent is always measured)

    @property
    def cars(self) -> int:
        return QUICK_CARS if self.quick else FULL_CARS
