"""Flooding: many near-duplicates of one text arriving from one source.

Repeating a text is how an attacker gives it weight in training. Exact and very close
copies are already removed by cleaning (near-dedup at 0.85); what is left are variations
of one text. Each record's folded prompt (its text, for text records) is sketched with
``near_dedup``'s MinHash over word 3-shingles and matched against the most recent
``window`` records through LSH bands; records similar above ``threshold`` join one
cluster (chaining), whose size, sources and time buckets are counted.

A cluster is flagged when at least ``min_source_share`` of it comes from one source, and
that source either is small for the cluster (its share of the cluster is ``min_lift``
times its share of the data) or sent the cluster in a burst (``min_burst_share`` of it in
one time window, ``min_lift`` times that window's share of the data). A burst spread over
many sources is what an outage looks like, so time alone never flags; legitimate templates
(auto-replies, forms) come from every source in proportion and are not flagged.

Misses: floods further apart than ``window`` records, floods of paraphrases (MinHash sees
words, not meaning), and a flood from the dominant source spread evenly over time. A
source that legitimately sends templates (a partner's order system) is flagged: mark it
trusted.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from datasets_app.pipeline.screen.model import SIGNATURE_SIZE, Flag, RecordView, check_numbers
from datasets_app.pipeline.screen.phrases import band_keys
from datasets_app.pipeline.screen.sketches import (
    OTHER_SOURCE,
    SourceCounter,
    bound_notes,
    bounded_increment,
    smallest_tenth,
    top_share,
)
from datasets_app.pipeline.screen.text import excerpt

NAME = "flooding"
MAX_SOURCES_PER_CLUSTER = 16
MAX_BUCKETS_PER_CLUSTER = 64
MAX_BUCKETS = 100_000  # time windows counted for the whole data (years of 6-hour windows)


@dataclass
class FloodingConfig:
    """Similarity, concentration thresholds and memory bounds of the flooding detector."""

    threshold: float = field(default=0.6, metadata={"help": "estimated Jaccard to cluster"})
    bands: int = field(default=10, metadata={"help": "LSH bands"})
    rows: int = field(default=2, metadata={"help": "MinHash rows per band"})
    window: int = field(default=20_000, metadata={"help": "recent records that can match"})
    min_cluster: int = field(default=8, metadata={"help": "records a flood needs"})
    min_source_share: float = field(
        default=0.8, metadata={"help": "share of the cluster from its top source"}
    )
    min_lift: float = field(
        default=5.0, metadata={"help": "concentration relative to the data as a whole"}
    )
    window_seconds: float = field(default=6 * 3600, metadata={"help": "time bucket length"})
    min_burst_share: float = field(
        default=0.6, metadata={"help": "share of the cluster in its busiest time bucket"}
    )
    max_clusters: int = field(default=4096, metadata={"help": "clusters remembered"})
    max_tracked: int = field(default=500_000, metadata={"help": "members remembered"})
    max_sources: int = field(default=10_000, metadata={"help": "sources counted by name"})

    def __post_init__(self) -> None:
        check_numbers(self, "flooding")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("flooding.threshold must be in (0, 1]")
        if self.bands < 1 or self.rows < 1 or self.bands * self.rows > SIGNATURE_SIZE:
            raise ValueError(
                f"flooding needs bands, rows >= 1 and bands x rows <= {SIGNATURE_SIZE}"
            )
        if self.window < 2:
            raise ValueError("flooding.window must be >= 2")
        if self.min_cluster < 2 or self.min_lift < 1.0 or self.window_seconds <= 0:
            raise ValueError("flooding needs min_cluster >= 2, min_lift >= 1, window_seconds > 0")
        for name in ("min_source_share", "min_burst_share"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"flooding.{name} must be in (0, 1]")
        if min(self.max_clusters, self.max_tracked, self.max_sources) < 16:
            raise ValueError("flooding memory bounds must be >= 16")


@dataclass
class _Cluster:
    id: int
    size: int = 0
    sources: Counter[str] = field(default_factory=Counter)
    buckets: Counter[int] = field(default_factory=Counter)
    members: array[int] = field(default_factory=lambda: array("q"))
    member_sources: list[str] = field(default_factory=list)
    example: str = ""


class _RecentIndex:
    """MinHash signatures of the last ``window`` records in a ring, with LSH band tables in
    two generations (the older one dropped when the newer fills, as in ``near_dedup``)."""

    def __init__(self, config: FloodingConfig) -> None:
        self.config = config
        size = config.window
        self.signatures = np.zeros((size, config.bands * config.rows), dtype=np.uint32)
        self.record = np.full(size, -1, dtype=np.int64)
        self.cluster = np.full(size, -1, dtype=np.int64)
        self.source: list[str] = [""] * size
        self.bucket = np.full(size, -1, dtype=np.int64)
        self.tables: list[list[dict[int, int]]] = [self._tables(), self._tables()]
        self.next_slot = 0

    def _tables(self) -> list[dict[int, int]]:
        return [{} for _ in range(self.config.bands)]

    def band_keys(self, signature: np.ndarray) -> list[int]:
        return band_keys(signature, self.config.bands, self.config.rows)

    def matches(self, signature: np.ndarray, keys: list[int]) -> list[int]:
        """The slots of the remembered records similar above the threshold, most similar
        first (ties: the older slot first)."""
        signature = signature[: self.signatures.shape[1]]
        slots = {
            slot
            for generation in self.tables
            for band, key in enumerate(keys)
            if (slot := generation[band].get(key)) is not None
        }
        scored = []
        for slot in sorted(slots):
            similarity = np.count_nonzero(self.signatures[slot] == signature) / signature.size
            if similarity >= self.config.threshold:
                scored.append((-similarity, slot))
        return [slot for _, slot in sorted(scored)]

    def add(self, signature: np.ndarray, keys: list[int]) -> int:
        """Remembers a record; returns its slot (the caller fills the slot's fields)."""
        half = max(1, self.config.window // 2)
        if self.next_slot % half == 0 and self.next_slot:
            self.tables = [self.tables[1], self._tables()]
        slot = self.next_slot % self.config.window
        self.next_slot += 1
        self.signatures[slot] = signature[: self.signatures.shape[1]]
        for band, key in enumerate(keys):
            self.tables[1][band][key] = slot
        return slot


class FloodingDetector:
    """Finds near-duplicate clusters concentrated in one source; flags come from finish."""

    name = NAME

    def __init__(self, config: FloodingConfig) -> None:
        self.config = config
        self._index = _RecentIndex(config)
        self._clusters: dict[int, _Cluster] = {}
        self._next_id = 0
        self._sources = SourceCounter(config.max_sources)
        self._buckets: Counter[int] = Counter()
        self._timed = 0
        self._tracked = 0
        self._untracked = 0
        self._evicted = 0

    def observe_batch(self, views: list[RecordView]) -> list[Flag]:
        """Observes each record in order (see ``observe``)."""
        return [flag for view in views for flag in self.observe(view)]

    def observe(self, view: RecordView) -> list[Flag]:
        """Clusters one record; never flags before ``finish``."""
        source = view.source
        self._sources.add(source)
        bucket = -1
        if view.timestamp is not None:
            bucket = int(view.timestamp // self.config.window_seconds)
            if bucket in self._buckets or len(self._buckets) < MAX_BUCKETS:
                self._timed += 1
                self._buckets[bucket] += 1
            else:
                bucket = -1
        # The side the outside world writes: a flood arrives as messages, while the replies
        # to them are written by agents and vary.
        signature = view.signature("prompt" if view.has_pair else "all")
        if signature is None:
            return []
        keys = self._index.band_keys(signature)
        matched = self._index.matches(signature, keys)
        cluster_id = -1
        if matched:
            cluster = self._cluster_of(matched[0], view)
            for slot in matched[1:]:
                # A record close to two clusters joins them: variations chain.
                other = self._clusters.get(int(self._index.cluster[slot]))
                if other is not None and other is not cluster:
                    self._merge(cluster, other)
            self._join(cluster, view.index, source, bucket)
            cluster_id = cluster.id
        slot = self._index.add(signature, keys)
        index = self._index
        index.record[slot], index.cluster[slot], index.bucket[slot] = view.index, cluster_id, bucket
        index.source[slot] = source
        return []

    def _cluster_of(self, slot: int, view: RecordView) -> _Cluster:
        """The cluster of the matched record, created (with that record) if it had none."""
        index = self._index
        existing = self._clusters.get(int(index.cluster[slot]))
        if existing is not None:
            return existing
        if len(self._clusters) >= self.config.max_clusters:
            self._evict()
        cluster = _Cluster(id=self._next_id, example=excerpt(view.prompt or view.joined()))
        self._next_id += 1
        self._clusters[cluster.id] = cluster
        index.cluster[slot] = cluster.id
        self._join(cluster, int(index.record[slot]), index.source[slot], int(index.bucket[slot]))
        return cluster

    def _join(self, cluster: _Cluster, record: int, source: str, bucket: int) -> None:
        cluster.size += 1
        bounded_increment(cluster.sources, source, MAX_SOURCES_PER_CLUSTER)
        if bucket >= 0 and (
            bucket in cluster.buckets or len(cluster.buckets) < MAX_BUCKETS_PER_CLUSTER
        ):
            cluster.buckets[bucket] += 1
        if self._tracked >= self.config.max_tracked:
            self._untracked += 1
            return
        cluster.members.append(record)
        cluster.member_sources.append(source)
        self._tracked += 1

    def _merge(self, target: _Cluster, other: _Cluster) -> None:
        """Moves ``other`` into ``target``."""
        del self._clusters[other.id]
        self._index.cluster[self._index.cluster == other.id] = target.id
        target.size += other.size
        for source, count in other.sources.items():
            bounded_increment(target.sources, source, MAX_SOURCES_PER_CLUSTER, count)
        for bucket, count in other.buckets.items():
            if bucket in target.buckets or len(target.buckets) < MAX_BUCKETS_PER_CLUSTER:
                target.buckets[bucket] += count
        target.members.extend(other.members)
        target.member_sources.extend(other.member_sources)

    def _evict(self) -> None:
        """Forgets the smallest tenth of the clusters (the oldest among equals)."""
        for cluster in smallest_tenth(self._clusters.values()):
            del self._clusters[cluster.id]
            self._tracked -= len(cluster.members)
            self._evicted += 1

    def finish(self) -> list[Flag]:
        """Flags every remembered member of each concentrated cluster."""
        flags: list[Flag] = []
        for cluster_id in sorted(self._clusters):
            cluster = self._clusters[cluster_id]
            verdict = self._verdict(cluster)
            if verdict is not None:
                flags.extend(self._flags(cluster, *verdict))
        return flags

    def _verdict(self, cluster: _Cluster) -> tuple[str, float] | None:
        """(reason, score) when the cluster is a flood, else None."""
        config = self.config
        if cluster.size < config.min_cluster:
            return None
        source, count = top_share(cluster.sources)
        share = count / cluster.size
        if share < config.min_source_share or source == OTHER_SOURCE:
            return None
        lift = share / max(self._sources.share(self._sources.key(source)), 1e-9)
        burst, burst_lift = self._burst(cluster)
        bursty = burst >= config.min_burst_share and burst_lift >= config.min_lift
        if lift < config.min_lift and not bursty:
            return None
        reason = (
            f"flooding: {cluster.size} near-duplicate records, {share:.0%} from one source "
            f"({lift:.1f}x its share of the data)"
        )
        if bursty:
            hours = config.window_seconds / 3600
            reason += f", {burst:.0%} within one {hours:g}-hour window"
        score = 0.9 if bursty and lift >= config.min_lift else 0.7
        return reason, score

    def _burst(self, cluster: _Cluster) -> tuple[float, float]:
        """(share of the cluster in its busiest bucket, lift of that share), or zeros."""
        if not cluster.buckets or not self._timed:
            return 0.0, 0.0
        bucket, count = max(cluster.buckets.items(), key=lambda item: (item[1], -item[0]))
        share = count / cluster.size
        return share, share / max(self._buckets[bucket] / self._timed, 1e-9)

    def _flags(self, cluster: _Cluster, reason: str, score: float) -> list[Flag]:
        digest = hashlib.blake2b(
            f"{cluster.id}:{cluster.members[:1].tolist()}".encode(), digest_size=8
        )
        group = f"{NAME}:{digest.hexdigest()}"
        return [
            Flag(
                record_index=record,
                detector=NAME,
                reason=reason,
                score=score,
                source=source,
                group=group,
                evidence=f'cluster example "{cluster.example}"',
            )
            for record, source in zip(cluster.members, cluster.member_sources, strict=True)
        ]

    def notes(self) -> list[str]:
        """Where a memory bound was reached."""
        notes = []
        if self._index.next_slot > self.config.window:
            notes.append(
                f"{NAME}: only the last {self.config.window} records could be matched at any time"
            )
        return notes + bound_notes(NAME, forgotten=self._evicted, unremembered=self._untracked)

    def footprint(self) -> dict[str, int]:
        """Sizes of the bounded structures (for tests and reports)."""
        return {
            "clusters": len(self._clusters),
            "tracked": self._tracked,
            "band_entries": sum(len(t) for generation in self._index.tables for t in generation),
            "sources": len(self._sources.counts),
            "buckets": len(self._buckets),
        }
