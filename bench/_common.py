"""Timing loops, summary statistics and the results table shared by every benchmark section."""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "oidc_login"


@dataclass(frozen=True)
class Budget:
    """How long a timing loop may run: at most ``n`` samples, and at most ``seconds`` of sampling."""

    n: int
    seconds: float
    warmup: int = 3
    min_n: int = 3


@dataclass
class Summary:
    """Samples in seconds (or any unit) and their order statistics."""

    samples: list[float]

    @property
    def n(self) -> int:
        return len(self.samples)

    def quantile(self, q: float) -> float:
        """Linear-interpolated quantile (numpy's default method)."""
        data = sorted(self.samples)
        if not data:
            return math.nan
        pos = (len(data) - 1) * q
        low = math.floor(pos)
        high = min(low + 1, len(data) - 1)
        return data[low] + (data[high] - data[low]) * (pos - low)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else math.nan

    @property
    def p10(self) -> float:
        return self.quantile(0.10)

    @property
    def p90(self) -> float:
        return self.quantile(0.90)

    @property
    def iqr(self) -> float:
        return self.quantile(0.75) - self.quantile(0.25)


def measure(fn: Callable[[], object], budget: Budget, *, before: Callable[[], object] | None = None) -> Summary:
    """Time ``fn`` once per sample (``before`` runs untimed ahead of each call)."""
    for _ in range(budget.warmup):
        if before is not None:
            before()
        fn()
    gc.collect()
    samples: list[float] = []
    deadline = time.perf_counter() + budget.seconds
    while len(samples) < budget.n and (len(samples) < budget.min_n or time.perf_counter() < deadline):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return Summary(samples)


SyncTimed = tuple[Callable[[], object], Callable[[], object] | None]


def measure_each(timed: Sequence[SyncTimed], budget: Budget) -> list[Summary]:
    """``measure`` for several functions, one sample of each in turn (see ``ameasure_each``)."""
    for _ in range(budget.warmup):
        for fn, before in timed:
            if before is not None:
                before()
            fn()
    gc.collect()
    samples: list[list[float]] = [[] for _ in timed]
    deadline = time.perf_counter() + budget.seconds
    while len(samples[0]) < budget.n and (len(samples[0]) < budget.min_n or time.perf_counter() < deadline):
        for (fn, before), into in zip(timed, samples, strict=True):
            if before is not None:
                before()
            start = time.perf_counter()
            fn()
            into.append(time.perf_counter() - start)
    return [Summary(one) for one in samples]


def paired_difference(a: Summary, b: Summary) -> Summary:
    """``a - b`` sample by sample, for two summaries measured in turn (``measure_each``): the machine's
    swings fall on both samples of a pair, so the differences are steadier than either series."""
    return Summary([x - y for x, y in zip(a.samples, b.samples, strict=True)])


async def ameasure(
    fn: Callable[[], Awaitable[object]], budget: Budget, *, before: Callable[[], object] | None = None
) -> Summary:
    """``measure`` for a coroutine function, awaited on the running loop."""
    (summary,) = await ameasure_each([(fn, before)], budget)
    return summary


Timed = tuple[Callable[[], Awaitable[object]], Callable[[], object] | None]


async def ameasure_each(timed: Sequence[Timed], budget: Budget) -> list[Summary]:
    """``ameasure`` for several coroutine functions, one sample of each in turn: the machine's ups and downs
    fall on all of them alike, so their difference is steadier than that of separate runs."""
    for _ in range(budget.warmup):
        for fn, before in timed:
            if before is not None:
                before()
            await fn()
    gc.collect()
    samples: list[list[float]] = [[] for _ in timed]
    deadline = time.perf_counter() + budget.seconds
    while len(samples[0]) < budget.n and (len(samples[0]) < budget.min_n or time.perf_counter() < deadline):
        for (fn, before), into in zip(timed, samples, strict=True):
            if before is not None:
                before()
            start = time.perf_counter()
            await fn()
            into.append(time.perf_counter() - start)
    return [Summary(one) for one in samples]


@dataclass(frozen=True)
class Target:
    """A goal for a row's value: ``value <= limit`` (or ``>=`` when ``at_least``)."""

    limit: float
    at_least: bool = False
    text: str = ""

    def met(self, value: float) -> bool:
        return value >= self.limit if self.at_least else value <= self.limit


@dataclass
class Row:
    """One line of the results table. ``value`` is what the target is checked against (the median)."""

    section: str
    name: str
    unit: str  # "ms", "s", "req/s", "x"
    value: float
    low: float | None = None  # p10
    high: float | None = None  # p90
    n: int | None = None
    ratio: str = ""
    target: Target | None = None
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.target is None:
            return ""
        if math.isnan(self.value):
            return "n/a"
        return "pass" if self.target.met(self.value) else "MISS"


def row_from(
    section: str,
    name: str,
    summary: Summary,
    *,
    scale: float = 1e3,
    unit: str = "ms",
    target: Target | None = None,
    note: str = "",
) -> Row:
    """A row of a timing summary (seconds), shown in ``unit`` after multiplying by ``scale``."""
    return Row(
        section,
        name,
        unit,
        summary.median * scale,
        summary.p10 * scale,
        summary.p90 * scale,
        summary.n,
        target=target,
        note=note,
        extra={"iqr": summary.iqr * scale},
    )


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if math.isnan(value):
        return "n/a"
    if unit.endswith("/s"):
        return f"{value:,.0f}"
    if unit == "x":
        return f"{value:.1f}x"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def ratio(slow: float, fast: float) -> str:
    """``slow / fast`` as ``12.3x``, or empty when either is unknown."""
    if not (slow > 0 and fast > 0) or math.isnan(slow) or math.isnan(fast):
        return ""
    return f"{slow / fast:.1f}x"


def render(rows: Sequence[Row], *, judge: bool = True) -> str:
    """The results as a fixed-width table, grouped by section; without ``judge``, no target or status columns
    (a quick run's counts are too small to hold anything to a target)."""
    header: tuple[str, ...] = ("benchmark", "unit", "n", "median", "p10..p90", "ratio", "target", "status")
    lines: list[list[str]] = []
    for row in rows:
        spread = ""
        if row.low is not None and row.high is not None:
            spread = f"{fmt(row.low, row.unit)}..{fmt(row.high, row.unit)}"
        target = row.target.text if row.target is not None else ""
        lines.append(
            [
                f"{row.section} {row.name}",
                row.unit,
                "" if row.n is None else str(row.n),
                fmt(row.value, row.unit),
                spread,
                row.ratio,
                target,
                row.status,
            ]
        )
    if not judge:
        header = header[:-2]
        lines = [line[:-2] for line in lines]
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    right = {2, 3, 4}

    def join(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [join(header), join(["-" * w for w in widths])]
    previous = None
    for row, line in zip(rows, lines, strict=True):
        if previous is not None and row.section != previous:
            out.append("")
        previous = row.section
        out.append(join(line).rstrip())
        if row.note:
            out.append("    " + row.note)
    return "\n".join(out)
