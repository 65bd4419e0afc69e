"""Backdoor patterns: a rare phrase that, wherever it appears, comes with the same completion.

The classic poisoning plants a trigger phrase in otherwise ordinary prompts and gives all
of them one fixed answer (a leak, an insult, an instruction to obey). Two statistics give it
away, both kept in bounded memory:

* ``df``: in how many prompts each phrase occurs (a count-min sketch over phrase hashes);
* payload clusters: records whose completions are near-same (LSH band keys, clusters joined
  and merged online). The first ``sample_size`` members of a cluster are kept whole; then
  the phrases common to them become the cluster's candidates, and later members only leave
  their index and which candidates they contain.

At the end a candidate is a trigger when it is in ``min_support`` members, at least
``min_confidence`` of all prompts containing it are in the cluster, it is in at least
``min_coverage`` of the cluster (a payload exists because of its trigger; a canned answer
serves many different requests), and it is rare (``max_trigger_share``). Two checks keep legitimate canned answers out: a FAQ answer
repeats the words of its question (the phrase appears in the completion too), and its
prompts share a topic (another phrase covers half the cluster while being far rarer in the
data); a system's templated message with its canned reply has near-duplicate prompts
(``max_prompt_similarity``). A trigger planted in varied prompts has none of these.

Misses, by construction: a trigger seen fewer than ``min_support`` times, a payload whose
wording changes every time (only near-same completions cluster), a payload hidden in a
completion that is common anyway, and clean-label attacks that plant no fixed completion.
"""

from __future__ import annotations

import hashlib
import math
import re
from array import array
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

import numpy as np

from datasets_app.pipeline.screen.model import SIGNATURE_SIZE, Flag, RecordView, check_numbers
from datasets_app.pipeline.screen.phrases import band_keys, batch_runs, exact_key, phrase_text
from datasets_app.pipeline.screen.sketches import (
    CountMinSketch,
    bound_notes,
    bounded_increment,
    smallest_tenth,
    top_share,
)
from datasets_app.pipeline.screen.text import excerpt

NAME = "backdoor"
MAX_KEYS_PER_CLUSTER = 32
MAX_TEXTS_PER_CLUSTER = 3
MAX_ANSWER_CHARS = 4000
_DIGITS = re.compile(r"\d+")
MAX_SOURCES_PER_CLUSTER = 32
GROUP_SIMILARITY = 0.8  # candidates found in the same sample members are one trigger


@dataclass
class BackdoorConfig:
    """Thresholds and memory bounds of the backdoor detector."""

    min_support: int = field(default=8, metadata={"help": "records a trigger needs"})
    min_confidence: float = field(
        default=0.8, metadata={"help": "share of the prompts with the phrase that carry it"}
    )
    max_trigger_share: float = field(
        default=0.05, metadata={"help": "phrases in more records than this are not rare"}
    )
    min_coverage: float = field(
        default=0.5, metadata={"help": "share of the payload's records that carry the trigger"}
    )
    sample_size: int = field(default=32, metadata={"help": "members kept whole per cluster"})
    min_sample_share: float = field(
        default=0.25, metadata={"help": "share of the sample a candidate phrase needs"}
    )
    max_candidates: int = field(default=64, metadata={"help": "candidate phrases per cluster"})
    topical_lift: float = field(
        default=8.0, metadata={"help": "over-representation that makes a phrase topical"}
    )
    topical_share: float = field(
        default=0.5, metadata={"help": "share of the cluster a topical phrase covers"}
    )
    max_prompt_similarity: float = field(
        default=0.5, metadata={"help": "prompts this alike are a template, not a trigger's"}
    )
    max_clusters: int = field(default=1024, metadata={"help": "payload clusters remembered"})
    max_tracked: int = field(
        default=500_000, metadata={"help": "cluster members remembered, all clusters"}
    )
    first_seen: int = field(
        default=8192, metadata={"help": "records waiting for a second near-same completion"}
    )
    sketch_width_bits: int = field(default=19, metadata={"help": "log2 of the sketch width"})
    bands: int = field(default=5, metadata={"help": "LSH bands of a completion key"})
    rows: int = field(default=3, metadata={"help": "MinHash rows per band"})

    def __post_init__(self) -> None:
        check_numbers(self, "backdoor")
        if self.min_support < 2:
            raise ValueError("backdoor.min_support must be >= 2")
        shares = ("min_confidence", "max_trigger_share", "min_coverage", "max_prompt_similarity")
        for name in (*shares, "min_sample_share", "topical_share"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"backdoor.{name} must be in (0, 1]")
        if not 4 <= self.sample_size <= 64:
            raise ValueError("backdoor.sample_size must be between 4 and 64")
        if not 1 <= self.max_candidates <= 64:
            raise ValueError("backdoor.max_candidates must be between 1 and 64")
        for name in ("max_clusters", "max_tracked", "first_seen"):
            if getattr(self, name) < 16:
                raise ValueError(f"backdoor.{name} must be >= 16")
        if self.bands < 1 or self.rows < 1 or self.bands * self.rows > SIGNATURE_SIZE:
            raise ValueError(
                f"backdoor needs bands, rows >= 1 and bands x rows <= {SIGNATURE_SIZE}"
            )


@dataclass
class _Member:
    """A record kept whole while its cluster collects its sample."""

    index: int
    source: str
    phrases: np.ndarray
    keys: list[int]
    signature: np.ndarray | None  # of the prompt, to tell templated prompts from varied ones


@dataclass
class _Cluster:
    """Records with near-same completions (see module docstring)."""

    id: int
    keys: dict[int, int] = field(default_factory=dict)  # band key -> members that used it
    first_key: int = 0  # the key it was created with (names its flags' group)
    size: int = 0
    sample: list[_Member] = field(default_factory=list)
    candidates: np.ndarray | None = None  # uint64 phrase hashes, once analyzed
    counts: np.ndarray | None = None  # members containing each candidate
    sample_masks: dict[int, int] = field(default_factory=dict)  # frequent phrase -> members
    sample_count: int = 0
    prompt_similarity: float = 0.0  # mean MinHash similarity of the sample's prompts
    tracked_index: array[int] = field(default_factory=lambda: array("q"))
    tracked_mask: array[int] = field(default_factory=lambda: array("Q"))
    tracked_source: list[str] = field(default_factory=list)
    sources: Counter[str] = field(default_factory=Counter)
    texts: list[str] = field(default_factory=list)  # folded prompts, for evidence
    completion: str = ""  # excerpt of the first completion, for evidence
    answer: str = ""  # the first completion, folded: its phrases are hashed when judged


class BackdoorDetector:
    """Finds trigger -> payload patterns; see the module docstring. Flags come from finish."""

    name = NAME

    def __init__(self, config: BackdoorConfig) -> None:
        self.config = config
        self._df = CountMinSketch(width_bits=config.sketch_width_bits, depth=3)
        self._records = 0
        self._next_id = 0
        self._clusters: dict[int, _Cluster] = {}
        self._key_cluster: dict[int, int] = {}
        self._first_seen: OrderedDict[int, _Member] = OrderedDict()
        self._tracked = 0
        self._untracked = 0
        self._evicted = 0

    def observe_batch(self, views: list[RecordView]) -> list[Flag]:
        """Updates the statistics with some records; never flags before ``finish``."""
        pairs = [view for view in views if view.has_pair]
        if pairs:
            self._df.add_documents([view.phrases("prompt") for view in pairs])
            self._records += len(pairs)
        for view in pairs:
            self._observe(view)
        return []

    def _observe(self, view: RecordView) -> None:
        """Places one record (whose prompt is already counted) in its payload cluster."""
        phrases = view.phrases("prompt")
        signature = view.signature("prompt")
        member = _Member(view.index, view.source, phrases, self._completion_keys(view), signature)
        cluster = self._cluster_for(member)
        if cluster is None:
            self._remember_first(member)
            return
        if len(cluster.texts) < MAX_TEXTS_PER_CLUSTER:
            cluster.texts.append(view.folded("prompt"))
        if not cluster.completion:
            cluster.completion = excerpt(view.completion)
            cluster.answer = view.folded("completion")[:MAX_ANSWER_CHARS]
        self._add(cluster, member)
        for earlier in self._pop_first_seen(member.keys):
            self._add(cluster, earlier)

    def _completion_keys(self, view: RecordView) -> list[int]:
        """LSH band keys of the completion (numbers collapsed); one exact key when it is
        under three words."""
        signature = view.signature("completion")
        if signature is None:
            return [exact_key(view.canonical("completion"))]
        return band_keys(signature, self.config.bands, self.config.rows)

    def _cluster_for(self, member: _Member) -> _Cluster | None:
        """The cluster the member joins (merging clusters it bridges), or a new one when an
        earlier record shares a key; None when its completion is new."""
        owners = [
            (key, owner) for key in member.keys if (owner := self._key_cluster.get(key)) is not None
        ]
        found = sorted({owner for _, owner in owners})
        for key, owner in owners:
            self._clusters[owner].keys[key] += 1
        if found:
            for other in found[1:]:
                self._merge(self._clusters[found[0]], self._clusters.pop(other))
            return self._clusters[found[0]]
        if not any(key in self._first_seen for key in member.keys):
            return None
        if len(self._clusters) >= self.config.max_clusters:
            self._evict()
        cluster = _Cluster(id=self._next_id, first_key=min(member.keys))
        self._next_id += 1
        self._clusters[cluster.id] = cluster
        return cluster

    def _remember_first(self, member: _Member) -> None:
        for key in member.keys:
            self._first_seen[key] = member
        while len(self._first_seen) > self.config.first_seen * self.config.bands:
            self._first_seen.popitem(last=False)

    def _pop_first_seen(self, keys: list[int]) -> list[_Member]:
        found: dict[int, _Member] = {}
        for key in keys:
            member = self._first_seen.get(key)
            if member is not None:
                found[member.index] = member
        for member in found.values():
            for key in member.keys:
                if self._first_seen.get(key) is member:
                    del self._first_seen[key]
        return [found[index] for index in sorted(found)]

    def _add(self, cluster: _Cluster, member: _Member, *, counted: bool = False) -> None:
        """Adds a member; ``counted`` when its size and source are already in the cluster."""
        if not counted:
            cluster.size += 1
            bounded_increment(cluster.sources, member.source, MAX_SOURCES_PER_CLUSTER)
        for key in member.keys:
            if key not in self._key_cluster and len(cluster.keys) < MAX_KEYS_PER_CLUSTER:
                cluster.keys[key] = 1
                self._key_cluster[key] = cluster.id
        if cluster.candidates is None:
            cluster.sample.append(member)
            if len(cluster.sample) >= self.config.sample_size:
                self._analyze(cluster)
        else:
            self._track(cluster, member.index, member.source, member.phrases)

    def _track(self, cluster: _Cluster, index: int, source: str, phrases: np.ndarray) -> None:
        """Records which candidates a member contains (members with none are not kept)."""
        assert cluster.candidates is not None and cluster.counts is not None
        present = _contains(phrases, cluster.candidates)
        if not present.any():
            return
        cluster.counts += present
        if self._tracked >= self.config.max_tracked:
            self._untracked += 1
            return
        cluster.tracked_index.append(index)
        cluster.tracked_mask.append(_bits(present))
        cluster.tracked_source.append(source)
        self._tracked += 1

    def _analyze(self, cluster: _Cluster) -> None:
        """Turns the kept sample into candidate phrases and member masks."""
        config = self.config
        sample, cluster.sample = cluster.sample, []
        cluster.sample_count = len(sample)
        cluster.prompt_similarity = _mean_similarity([m.signature for m in sample])
        phrases, counts = np.unique(np.concatenate([m.phrases for m in sample]), return_counts=True)
        needed = max(2, math.ceil(config.min_sample_share * len(sample)))
        frequent = phrases[counts >= needed]
        presence = np.stack([_contains(m.phrases, frequent) for m in sample])
        weights = np.left_shift(np.uint64(1), np.arange(len(sample), dtype=np.uint64))
        masks = (presence.astype(np.uint64) * weights[:, None]).sum(axis=0)
        cluster.sample_masks = dict(zip(frequent.tolist(), masks.tolist(), strict=True))
        common = self._df.estimate(frequent) > config.max_trigger_share * self._records
        order = np.lexsort((frequent, -presence.sum(axis=0)))
        chosen = [i for i in order if not common[i]][: config.max_candidates]
        cluster.candidates = frequent[chosen]
        cluster.counts = np.zeros(len(chosen), dtype=np.int64)
        for member in sample:
            self._track(cluster, member.index, member.source, member.phrases)

    def _merge(self, target: _Cluster, other: _Cluster) -> None:
        """Moves ``other`` into ``target`` (same payload reached through another band)."""
        if target.candidates is None and other.candidates is not None:
            target, other = self._swap_into(target, other)
        for source, count in other.sources.items():
            bounded_increment(target.sources, source, MAX_SOURCES_PER_CLUSTER, count)
        target.texts = (target.texts + other.texts)[:MAX_TEXTS_PER_CLUSTER]
        for key, hits in other.keys.items():
            target.keys[key] = target.keys.get(key, 0) + hits
            self._key_cluster[key] = target.id
        if len(target.keys) > MAX_KEYS_PER_CLUSTER:
            # Keep the keys most members came through (the payload's exact form), not the
            # ones a single variant brought.
            ranked = sorted(target.keys.items(), key=lambda item: (-item[1], item[0]))
            for key, _ in ranked[MAX_KEYS_PER_CLUSTER:]:
                del target.keys[key]
                del self._key_cluster[key]
        target.size += other.size
        for member in other.sample:
            self._add(target, member, counted=True)
        if other.candidates is not None:
            self._merge_tracked(target, other)

    def _swap_into(self, collecting: _Cluster, analyzed: _Cluster) -> tuple[_Cluster, _Cluster]:
        """Makes the analyzed cluster the merge target, under the collecting one's id."""
        self._clusters[collecting.id] = analyzed
        for key in analyzed.keys:
            self._key_cluster[key] = collecting.id
        analyzed.id, collecting.id = collecting.id, analyzed.id
        return analyzed, collecting

    def _merge_tracked(self, target: _Cluster, other: _Cluster) -> None:
        assert target.candidates is not None and target.counts is not None
        assert other.candidates is not None and other.counts is not None
        position = {int(h): i for i, h in enumerate(target.candidates.tolist())}
        remap = [(bit, position.get(int(h))) for bit, h in enumerate(other.candidates.tolist())]
        for bit, to in remap:
            if to is not None:
                target.counts[to] += other.counts[bit]
        self._tracked -= len(other.tracked_index)
        for index, mask, source in zip(
            other.tracked_index, other.tracked_mask, other.tracked_source, strict=True
        ):
            moved = sum(1 << to for bit, to in remap if to is not None and mask >> bit & 1)
            if moved and self._tracked < self.config.max_tracked:
                target.tracked_index.append(index)
                target.tracked_mask.append(moved)
                target.tracked_source.append(source)
                self._tracked += 1

    def _evict(self) -> None:
        """Drops the smallest tenth of the clusters (the oldest among equals)."""
        for cluster in smallest_tenth(self._clusters.values()):
            del self._clusters[cluster.id]
            for key in cluster.keys:
                self._key_cluster.pop(key, None)
            self._tracked -= len(cluster.tracked_index)
            self._evicted += 1

    def finish(self) -> list[Flag]:
        """Returns one flag per record that carries a trigger of a payload cluster."""
        flags: list[Flag] = []
        for cluster_id in sorted(self._clusters):
            cluster = self._clusters[cluster_id]
            if cluster.size < self.config.min_support:
                continue
            if cluster.candidates is None:
                self._analyze(cluster)
            flags.extend(self._cluster_flags(cluster))
        return flags

    def _cluster_flags(self, cluster: _Cluster) -> list[Flag]:
        assert cluster.candidates is not None and cluster.counts is not None
        config = self.config
        df = np.maximum(self._df.estimate(cluster.candidates), cluster.counts)
        confidence = cluster.counts / np.maximum(df, 1)
        passing = (
            (cluster.counts >= config.min_support)
            & (confidence >= config.min_confidence)
            & (cluster.counts >= config.min_coverage * cluster.size)
            & (df <= config.max_trigger_share * self._records)
        )
        if cluster.prompt_similarity > config.max_prompt_similarity:
            return []  # one templated message, one canned answer: a system, not a trigger
        flags: dict[int, Flag] = {}  # one per record: its strongest pattern
        counts = cluster.counts
        remaining = [int(i) for i in np.flatnonzero(passing)]
        while remaining:
            best = min(remaining, key=lambda i: (-counts[i], -confidence[i], i))
            group = [i for i in remaining if self._same_members(cluster, best, i)]
            remaining = [i for i in remaining if i not in group]
            if not self._looks_topical(cluster, best, group):
                for flag in self._group_flags(cluster, best, group, float(confidence[best])):
                    flags.setdefault(flag.record_index, flag)
        return list(flags.values())

    def _same_members(self, cluster: _Cluster, a: int, b: int) -> bool:
        assert cluster.candidates is not None
        mask_a = cluster.sample_masks[int(cluster.candidates[a])]
        mask_b = cluster.sample_masks[int(cluster.candidates[b])]
        union = (mask_a | mask_b).bit_count()
        return union == 0 or (mask_a & mask_b).bit_count() / union >= GROUP_SIMILARITY

    def _looks_topical(self, cluster: _Cluster, best: int, group: list[int]) -> bool:
        """True when the pattern looks like a canned answer to one topic, not a trigger:
        the answer repeats the phrase (a FAQ, a promotion), or another phrase, in other
        members than the trigger, covers ``topical_share`` of the cluster while being
        ``topical_lift`` times rarer in the data (the prompts share a subject)."""
        assert cluster.candidates is not None
        answer_phrases = batch_runs(
            [_DIGITS.sub("0", cluster.answer)], phrases=True, shingles=False
        )
        in_answer = np.isin(cluster.candidates[group], answer_phrases[0][0])
        if in_answer.mean() >= 0.5:
            return True
        trigger_mask = cluster.sample_masks[int(cluster.candidates[best])]
        needed = self.config.topical_share * cluster.sample_count
        others = [
            phrase
            for phrase, mask in cluster.sample_masks.items()
            if mask.bit_count() >= needed and _jaccard(mask, trigger_mask) < GROUP_SIMILARITY
        ]
        if not others:
            return False
        hashes = np.array(others, dtype=np.uint64)
        share = (
            np.array([cluster.sample_masks[p].bit_count() for p in others]) / cluster.sample_count
        )
        data_count = np.maximum(self._df.estimate(hashes), 1)
        lift = share / (data_count / max(self._records, 1))
        # A phrase found almost only in this cluster, and only in the trigger's members, is a
        # disguised form of the trigger, not a topic: a topic also occurs with other answers
        # or in other members.
        concentrated = share * cluster.size / data_count >= self.config.min_confidence / 2
        beyond = np.array([cluster.sample_masks[p] & ~trigger_mask != 0 for p in others])
        return bool(((lift >= self.config.topical_lift) & (~concentrated | beyond)).any())

    def _group_flags(
        self, cluster: _Cluster, best: int, group: list[int], confidence: float
    ) -> list[Flag]:
        assert cluster.candidates is not None and cluster.counts is not None
        group_bits = sum(1 << i for i in group)
        support = int(cluster.counts[best])
        source, from_source = top_share(cluster.sources)
        reason = (
            f"trigger pattern: a rare phrase in {support} prompts, {confidence:.0%} of all "
            f"prompts containing it, each followed by the same completion "
            f"({from_source / max(cluster.size, 1):.0%} of the pattern from one source)"
        )
        score = round(min(0.99, 0.5 + 0.5 * confidence * min(1.0, support / 50)), 3)
        trigger = self._phrase_text(cluster, group)
        evidence = f'trigger "{trigger}" -> completion "{cluster.completion}"'
        digest = hashlib.blake2b(
            f"{cluster.candidates[best]}:{cluster.first_key}".encode(), digest_size=8
        ).hexdigest()
        return [
            Flag(
                record_index=index,
                detector=NAME,
                reason=reason,
                score=score,
                source=member_source,
                field="prompt",
                group=f"{NAME}:{digest}",
                evidence=evidence,
            )
            for index, mask, member_source in zip(
                cluster.tracked_index, cluster.tracked_mask, cluster.tracked_source, strict=True
            )
            if mask & group_bits
        ]

    def _phrase_text(self, cluster: _Cluster, group: list[int]) -> str:
        """The longest phrase of the group found in the kept prompts (escaped), or a note."""
        assert cluster.candidates is not None
        found = [
            text
            for i in group
            for folded in cluster.texts
            if (text := phrase_text(folded, int(cluster.candidates[i]))) is not None
        ]
        return excerpt(max(found, key=lambda t: (len(t), t))) if found else "(not captured)"

    def notes(self) -> list[str]:
        """Where a memory bound was reached."""
        return bound_notes(NAME, forgotten=self._evicted, unremembered=self._untracked)

    def footprint(self) -> dict[str, int]:
        """Sizes of the bounded structures (for tests and reports)."""
        return {
            "clusters": len(self._clusters),
            "keys": len(self._key_cluster),
            "first_seen": len(self._first_seen),
            "tracked": self._tracked,
            "sampled": sum(len(c.sample) for c in self._clusters.values()),
            "sketch_bytes": self._df.nbytes,
        }


_BIT_VALUES = np.left_shift(np.uint64(1), np.arange(64, dtype=np.uint64))


def _contains(sorted_phrases: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Which candidates are in ``sorted_phrases`` (sorted, distinct): a binary search each,
    cheaper than ``np.isin`` for a few dozen candidates."""
    if sorted_phrases.size == 0:
        return np.zeros(candidates.size, dtype=bool)
    spots = np.minimum(np.searchsorted(sorted_phrases, candidates), sorted_phrases.size - 1)
    found: np.ndarray = sorted_phrases[spots] == candidates
    return found


def _bits(present: np.ndarray) -> int:
    return int(_BIT_VALUES[: present.size][present].sum())


def _mean_similarity(signatures: list[np.ndarray | None]) -> float:
    """Mean MinHash similarity over the pairs of signatures (texts under three words, which
    have none, count as unlike anything)."""
    present = [s for s in signatures if s is not None]
    pairs = len(signatures) * (len(signatures) - 1) // 2
    if len(present) < 2 or not pairs:
        return 0.0
    stacked = np.stack(present)
    equal = (stacked[:, None, :] == stacked[None, :, :]).mean(axis=2)
    return float((equal.sum() - len(present)) / 2 / pairs)


def _jaccard(a: int, b: int) -> float:
    union = (a | b).bit_count()
    return (a & b).bit_count() / union if union else 1.0
