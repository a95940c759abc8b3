"""Car models: the book's value weights, sticky faults, and the normal/aggressive driver.

Weights are relative (probability = weight / sum). Every status field has a rare *fault*
band (weight 0.0002 of 100, so p = 2e-6 a record); once a field draws from it, it stays in
it: every later record of that car draws from the fault band again. Because each record's
fault draw is independent until the first one, the first fault step is geometric; a car
draws it up front (:attr:`StatusCar.fault_step`), and before it the field's values are
drawn from the normal bands only. That is the same process as a per-record state machine,
and it lets any chunk of the day be generated without replaying the earlier ones.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate, product
from random import Random

STATUS_HEADER = (
    "SmartCar Status Information,CarNum,TireFL,TireFR,TireBL,TireBR,"
    "LightFL,LightFR,LightBL,LightBR,EngineInfo,BreakInfo,BatteryInfo"
)
DRIVER_HEADER = (
    "Driver Status Infomation,CarNum,AccStep,BrkStep,WheelStep,DirLightStep,Speed,AreaNum"
)
MAX_CARS = 9999  # the car number's index has 4 digits
NEVER = 1 << 62  # fault step of a field that never fails


def _values(low: int, high: int) -> tuple[str, ...]:
    return tuple(str(value) for value in range(low, high + 1))


@dataclass(frozen=True)
class Band:
    """Values drawn uniformly within the band; the band itself drawn by ``weight``."""

    values: tuple[str, ...]
    weight: float


@dataclass(frozen=True)
class StickyField:
    """A status field: normal bands, and a fault band that sticks once drawn."""

    name: str
    normal: tuple[Band, ...]
    fault: Band

    @property
    def total_weight(self) -> float:
        return sum(band.weight for band in self.normal) + self.fault.weight

    @property
    def fault_probability(self) -> float:
        return self.fault.weight / self.total_weight

    @property
    def normal_values(self) -> tuple[str, ...]:
        return tuple(value for band in self.normal for value in band.values)

    @property
    def normal_weights(self) -> tuple[float, ...]:
        """Per-value weights of the normal values (a band's weight shared by its values)."""
        return tuple(band.weight / len(band.values) for band in self.normal for _ in band.values)


TIRE = ((_values(80, 100), 80.0), (_values(70, 79), 19.9998)), (_values(0, 69), 0.0002)
LIGHT = ((("1",), 99.9998),), (("2",), 0.0002)
GRADE = ((("A",), 80.0), (("B",), 19.9998)), (("C",), 0.0002)
BATTERY = ((_values(80, 100), 90.0), (_values(50, 79), 9.9998)), (_values(0, 49), 0.0002)


def _field(name: str, spec: tuple) -> StickyField:
    normal, fault = spec
    return StickyField(name, tuple(Band(v, w) for v, w in normal), Band(*fault))


STATUS_FIELDS: tuple[StickyField, ...] = (
    *(_field(f"Tire{pos}", TIRE) for pos in ("FL", "FR", "BL", "BR")),
    *(_field(f"Light{pos}", LIGHT) for pos in ("FL", "FR", "BL", "BR")),
    _field("EngineInfo", GRADE),
    _field("BreakInfo", GRADE),
    _field("BatteryInfo", BATTERY),
)
FIELD_INDEX = {f.name: i for i, f in enumerate(STATUS_FIELDS)}
# Fields joined into one draw while none of them is faulted; the last group ends the line.
GROUPS: tuple[tuple[int, ...], ...] = ((0, 1), (2, 3), (4, 5, 6, 7), (8, 9, 10))


@dataclass(frozen=True)
class JointTable:
    """The joint normal distribution of a group of fields, as pre-formatted strings."""

    values: tuple[str, ...]
    cum_weights: tuple[float, ...]

    @classmethod
    def of(cls, fields: Sequence[StickyField], end: str) -> JointTable:
        combos = product(*(zip(f.normal_values, f.normal_weights, strict=True) for f in fields))
        values: list[str] = []
        weights: list[float] = []
        for combo in combos:
            values.append(",".join(value for value, _ in combo) + end)
            weights.append(math.prod(weight for _, weight in combo))
        return cls(tuple(values), tuple(accumulate(weights)))

    def draw(self, rng: Random, k: int) -> list[str]:
        if len(self.values) == 1:
            return [self.values[0]] * k
        return rng.choices(self.values, cum_weights=self.cum_weights, k=k)


def _group_end(group_no: int) -> str:
    return "\n" if group_no == len(GROUPS) - 1 else ","


JOINT_TABLES: tuple[JointTable, ...] = tuple(
    JointTable.of([STATUS_FIELDS[i] for i in group], _group_end(n))
    for n, group in enumerate(GROUPS)
)


def car_number(rng: Random, index: int) -> str:
    """A random letter A-Z and the 1-based 4-digit index: ``K0001``."""
    return rng.choice(string.ascii_uppercase) + f"{index:04d}"


def geometric(rng: Random, p: float) -> int:
    """Number of failures before the first success of Bernoulli(p) trials."""
    u = rng.random()
    return int(math.log1p(-u) / math.log1p(-p))


def status_rng(seed: int, index: int, chunk: int | None = None) -> Random:
    """The RNG of status car ``index`` (identity and faults), or of one chunk of its day."""
    tail = "" if chunk is None else f"/{chunk}"
    return Random(f"smartcar/{seed}/status/{index}{tail}")


@dataclass
class StatusCar:
    """One car of the status log: its number and the step each field first faults at."""

    index: int
    carnum: str
    fault_step: list[int] = field(default_factory=lambda: [NEVER] * len(STATUS_FIELDS))

    @classmethod
    def create(cls, seed: int, index: int) -> StatusCar:
        rng = status_rng(seed, index)
        carnum = car_number(rng, index)
        faults = [geometric(rng, f.fault_probability) for f in STATUS_FIELDS]
        return cls(index, carnum, faults)

    def force_fault(self, name: str, step: int) -> None:
        """Make field ``name`` fail at ``step`` (tests, demos)."""
        self.fault_step[FIELD_INDEX[name]] = step

    def faulted(self, name: str, step: int) -> bool:
        return step >= self.fault_step[FIELD_INDEX[name]]

    def lines(self, rng: Random, prefixes: Sequence[str], start: int) -> list[str]:
        """Records of steps ``start``.. (one per prefix ``"<timestamp>,"``), newline-ended."""
        n = len(prefixes)
        stop = start + n
        columns = []
        for group_no, group in enumerate(GROUPS):
            if all(self.fault_step[i] >= stop for i in group):
                columns.append(JOINT_TABLES[group_no].draw(rng, n))
            else:
                columns.append(self._slow_group(rng, group, start, n, _group_end(group_no)))
        head = self.carnum + ","
        return [f"{p}{head}{a}{b}{c}{d}" for p, a, b, c, d in zip(prefixes, *columns, strict=True)]

    def _slow_group(
        self, rng: Random, group: tuple[int, ...], start: int, n: int, end: str
    ) -> list[str]:
        """The group's column field by field, switching to the fault band at its step."""
        cols = []
        for i in group:
            spec = STATUS_FIELDS[i]
            healthy = min(max(self.fault_step[i] - start, 0), n)
            col = rng.choices(spec.normal_values, spec.normal_weights, k=healthy)
            col += [rng.choice(spec.fault.values) for _ in range(n - healthy)]
            cols.append(col)
        return [",".join(values) + end for values in zip(*cols, strict=True)]


# --- driving log -------------------------------------------------------------------------

CONGESTED = frozenset({"A10", "B02", "C04", "D05", "E10", "F06"})
AREA_LETTERS = "ABCDEF"
WHEELS = ("F", "L1", "L2", "L3", "R1", "R2", "R3")
MAX_SPEED = 250
AGGRESSIVE_SHARE = 0.1


@dataclass(frozen=True)
class DriverProfile:
    """How a kind of driver picks pedals, wheel and indicator."""

    acc_weights: tuple[int, ...]
    acc_speed: tuple[int, ...]
    brk_weights: tuple[int, ...]
    brk_speed: tuple[int, ...]
    wheel_weights: tuple[int, ...]
    signals_wheel: bool  # True: indicator follows the wheel; False: random N 60, L 20, R 20


NORMAL = DriverProfile(
    (30, 30, 10, 20, 5, 5), (0, 5, 10, 15, 20, 25), (30, 45, 20, 5), (0, 10, 20, 30),
    (70, 5, 5, 5, 5, 5, 5), True,
)  # fmt: skip
AGGRESSIVE = DriverProfile(
    (10, 10, 10, 30, 25, 15), (0, 5, 10, 20, 30, 40), (10, 10, 50, 30), (0, 5, 10, 20),
    (40, 10, 10, 10, 10, 10, 10), False,
)  # fmt: skip


def driver_rng(seed: int, index: int) -> Random:
    return Random(f"smartcar/{seed}/driver/{index}")


def aggressive_indexes(seed: int, cars: int) -> frozenset[int]:
    """The 1-based indexes of the aggressive drivers: 10 % of the cars (rounded), by seed."""
    count = round(cars * AGGRESSIVE_SHARE)
    return frozenset(Random(f"smartcar/{seed}/aggressive").sample(range(1, cars + 1), count))


@dataclass
class DriverCar:
    """One car of the driving log, with its running speed."""

    index: int
    carnum: str
    area: str
    aggressive: bool
    rng: Random
    speed: int = 0

    @classmethod
    def create(cls, seed: int, index: int, aggressive: bool) -> DriverCar:
        rng = driver_rng(seed, index)
        carnum = car_number(rng, index)
        return cls(index, carnum, rng.choice(AREA_LETTERS), aggressive, rng)

    @property
    def profile(self) -> DriverProfile:
        return AGGRESSIVE if self.aggressive else NORMAL

    def step(self) -> tuple[int, int, str, str, int, str]:
        """The next ``(acc, brk, wheel, dirlight, speed, area)``.

        Accelerate (cap 250); brake only when not accelerating (floor 0); then, in a
        congested area, the speed is cut to 30 %.
        """
        rng, prof = self.rng, self.profile
        acc = rng.choices(range(6), prof.acc_weights)[0]
        speed = min(self.speed + prof.acc_speed[acc], MAX_SPEED)
        brk = 0
        if acc == 0:
            brk = rng.choices(range(4), prof.brk_weights)[0]
            speed = max(speed - prof.brk_speed[brk], 0)
        wheel = rng.choices(WHEELS, prof.wheel_weights)[0]
        if prof.signals_wheel:
            light = "N" if wheel == "F" else wheel[0]
        else:
            light = rng.choices("NLR", (60, 20, 20))[0]
        area = f"{self.area}{rng.randint(1, 10):02d}"
        if area in CONGESTED:
            speed = speed * 3 // 10
        self.speed = speed
        return acc, brk, wheel, light, speed, area

    def line(self, timestamp: str) -> str:
        acc, brk, wheel, light, speed, area = self.step()
        return f"{timestamp},{self.carnum},{acc},{brk},{wheel},{light},{speed},{area}"


def driver_cars(seed: int, cars: int) -> list[DriverCar]:
    aggressive = aggressive_indexes(seed, cars)
    return [DriverCar.create(seed, i, i in aggressive) for i in range(1, cars + 1)]


def status_cars(seed: int, cars: int) -> list[StatusCar]:
    return [StatusCar.create(seed, i) for i in range(1, cars + 1)]
