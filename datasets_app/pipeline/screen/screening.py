"""The screen as one pass: every enabled detector sees each record once.

Streaming use (ingestion)::

    screen = Screen(ScreenConfig.from_dict(options))
    for index, record in enumerate(records):      # plain dicts, as stored
        store(screen.observe(record, index))      # flags decided so far
    store(screen.finish())                        # the rest
    lineage["screen"] = screen.report().to_dict()  # version, counts, notes

or ``screen_records(records, config)`` to get everything in one ``ScreenReport``.

Memory is bounded by the detectors' settings, not by the input: at the defaults about 45 MB
after 60,000 support tickets, 41 MB after 20,000 (tracemalloc, ``bench/ticket_corpus.py``),
and under 150 MB in the worst case (every table full: mostly the backdoor detector's cluster
samples and remembered members, and the flooding detector's band tables).

Bump ``SCREEN_VERSION`` whenever a detector's logic or a default changes: approved
versions record it, so a later audit knows which screen judged them.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from datasets_app.pipeline.screen.backdoor import BackdoorConfig, BackdoorDetector
from datasets_app.pipeline.screen.contradictions import ContradictionConfig, ContradictionDetector
from datasets_app.pipeline.screen.flooding import FloodingConfig, FloodingDetector
from datasets_app.pipeline.screen.injection import InjectionConfig, InjectionDetector
from datasets_app.pipeline.screen.model import Detector, Flag, RecordView, check_numbers, prepare
from datasets_app.pipeline.screen.outliers import OutlierConfig, TextStatsDetector
from datasets_app.pipeline.screen.payloads import PayloadConfig, PayloadDetector
from datasets_app.pipeline.screen.sketches import SourceCounter

SCREEN_VERSION = "1.0"
DETECTORS = ("backdoor", "flooding", "injection", "payload", "contradiction", "outlier")
_SECTIONS: dict[str, type] = {
    "backdoor": BackdoorConfig,
    "flooding": FloodingConfig,
    "injection": InjectionConfig,
    "payload": PayloadConfig,
    "contradiction": ContradictionConfig,
    "outlier": OutlierConfig,
}


@dataclass
class ScreenConfig:
    """Which detectors run, each one's settings, and how many sources the report names."""

    detectors: tuple[str, ...] = DETECTORS
    backdoor: BackdoorConfig = field(default_factory=BackdoorConfig)
    flooding: FloodingConfig = field(default_factory=FloodingConfig)
    injection: InjectionConfig = field(default_factory=InjectionConfig)
    payload: PayloadConfig = field(default_factory=PayloadConfig)
    contradiction: ContradictionConfig = field(default_factory=ContradictionConfig)
    outlier: OutlierConfig = field(default_factory=OutlierConfig)
    max_sources: int = field(default=1000, metadata={"help": "sources named in the report"})
    batch_size: int = field(
        default=256, metadata={"help": "records screened together (vectorized work)"}
    )

    def __post_init__(self) -> None:
        check_numbers(self, "screen")
        self.detectors = tuple(self.detectors)
        unknown = sorted(set(self.detectors) - set(DETECTORS))
        if unknown:
            raise ValueError(f"unknown screen detectors: {', '.join(unknown)}")
        if self.max_sources < 1:
            raise ValueError("max_sources must be >= 1")
        if not 1 <= self.batch_size <= 4096:
            raise ValueError("batch_size must be between 1 and 4096")

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict of every setting."""
        data = dataclasses.asdict(self)
        data["detectors"] = list(self.detectors)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScreenConfig:
        """Builds a config from a (possibly partial) dict. Raises ValueError on unknown keys
        or invalid values; missing keys take their defaults."""
        unknown = set(data) - {item.name for item in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown screen settings: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key in _SECTIONS:
                values[key] = _section(key, value)
            elif key == "detectors":
                if not isinstance(value, list | tuple) or not all(
                    isinstance(v, str) for v in value
                ):
                    raise ValueError("detectors must be a list of detector names")
                values[key] = tuple(value)
            else:
                values[key] = value
        return cls(**values)


def _section(name: str, value: object) -> Any:
    section = _SECTIONS[name]
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} settings must be an object")
    unknown = set(value) - {item.name for item in dataclasses.fields(section)}
    if unknown:
        raise ValueError(f"unknown {name} settings: {', '.join(sorted(unknown))}")
    try:
        return section(**value)
    except TypeError as exc:
        raise ValueError(f"invalid {name} settings: {exc}") from None


def _build(name: str, config: ScreenConfig) -> Detector:
    builders: dict[str, Any] = {
        "backdoor": lambda: BackdoorDetector(config.backdoor),
        "flooding": lambda: FloodingDetector(config.flooding),
        "injection": lambda: InjectionDetector(config.injection),
        "payload": lambda: PayloadDetector(config.payload),
        "contradiction": lambda: ContradictionDetector(config.contradiction),
        "outlier": lambda: TextStatsDetector(config.outlier),
    }
    detector: Detector = builders[name]()
    return detector


@dataclass
class ScreenReport:
    """What a screen found. ``counts``: per detector, its flags and flagged records.
    ``by_source``: per source (at most ``max_sources``, the rest under "(other)"), its
    records and flagged records per detector. ``notes``: memory bounds that were reached.
    ``flags`` is filled by ``screen_records`` (a streaming caller stores them as they come).
    """

    version: str
    config: dict[str, Any]
    records: int
    flagged_records: int
    counts: dict[str, dict[str, int]]
    by_source: dict[str, dict[str, int]]
    notes: list[str]
    flags: list[Flag] = field(default_factory=list)

    def to_dict(self, *, include_flags: bool = False) -> dict[str, Any]:
        """A JSON-ready dict for lineage. Flags (whose evidence quotes data) are left out
        unless ``include_flags``; store such a dict encrypted."""
        data = dataclasses.asdict(self)
        data["flags"] = [flag.to_dict() for flag in self.flags] if include_flags else []
        return data


class Screen:
    """Runs the enabled detectors over a stream of records (see the module docstring)."""

    def __init__(self, config: ScreenConfig | None = None) -> None:
        self.config = config or ScreenConfig()
        self._detectors = [_build(name, self.config) for name in self.config.detectors]
        self._records = 0
        self._sources = SourceCounter(self.config.max_sources)
        self._flagged: dict[str, set[int]] = defaultdict(set)
        self._flag_counts: dict[str, int] = defaultdict(int)
        self._by_source: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._pending: list[RecordView] = []
        self._finished = False

    def observe(self, record: Mapping[str, Any], index: int | None = None) -> list[Flag]:
        """Screens one record (its position when ``index`` is None). Records are examined
        ``batch_size`` at a time, so the flags returned, sorted, are those decided since
        the last call and may be about earlier records. Raises RuntimeError after
        ``finish``."""
        if self._finished:
            raise RuntimeError("the screen has finished")
        view = RecordView(record, self._records if index is None else index)
        self._records += 1
        self._sources.add(view.source)
        self._pending.append(view)
        return self._flush() if len(self._pending) >= self.config.batch_size else []

    def _flush(self) -> list[Flag]:
        views, self._pending = self._pending, []
        if not views:
            return []
        prepare(views)
        return self._counted(
            [f for detector in self._detectors for f in detector.observe_batch(views)]
        )

    def finish(self) -> list[Flag]:
        """Returns the remaining flags, sorted: those of the last records and those decided
        at the end. Call once."""
        if self._finished:
            raise RuntimeError("the screen has finished")
        flags = self._flush()
        self._finished = True
        return flags + self._counted([f for detector in self._detectors for f in detector.finish()])

    def _counted(self, flags: list[Flag]) -> list[Flag]:
        flags.sort(key=Flag.sort_key)
        for flag in flags:
            self._flag_counts[flag.detector] += 1
            seen = self._flagged[flag.detector]
            if flag.record_index not in seen:
                seen.add(flag.record_index)
                self._by_source[self._sources.key(flag.source)][flag.detector] += 1
        return flags

    def footprint(self) -> dict[str, dict[str, int]]:
        """The sizes of every detector's bounded structures, by detector (for tests and
        monitoring: each stays within its configured bound)."""
        return {detector.name: detector.footprint() for detector in self._detectors}

    def report(self) -> ScreenReport:
        """Counts so far (complete after ``finish``), without the flags themselves."""
        every = set().union(*self._flagged.values()) if self._flagged else set()
        counts = {
            name: {
                "flags": self._flag_counts.get(name, 0),
                "records": len(self._flagged.get(name, ())),
            }
            for name in self.config.detectors
        }
        by_source = {
            source: {"records": total, **dict(self._by_source.get(source, {}))}
            for source, total in sorted(self._sources.counts.items())
        }
        notes = [note for detector in self._detectors for note in detector.notes()]
        return ScreenReport(
            version=SCREEN_VERSION,
            config=self.config.to_dict(),
            records=self._records,
            flagged_records=len(every),
            counts=counts,
            by_source=by_source,
            notes=notes,
        )


def screen_records(
    records: Iterable[Mapping[str, Any]], config: ScreenConfig | None = None
) -> ScreenReport:
    """Screens ``records`` (plain dicts) in one pass; returns the report with every flag,
    sorted by record, detector, field and group. Record indices are positions."""
    screen = Screen(config)
    flags = [flag for record in records for flag in screen.observe(record)]
    flags += screen.finish()
    report = screen.report()
    report.flags = sorted(flags, key=Flag.sort_key)
    return report
