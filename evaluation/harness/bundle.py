"""Task bundles: a zip of lm-eval task YAML files and their data, checked and read in memory.

``read_bundle(zip_bytes)`` returns every task of the bundle with its settings and its data
(Arrow tables), or raises ``BundleRefused`` naming the member and the reason. The bytes come
from the upload or from the encrypted blob store; nothing is extracted to disk.

What is refused, and why:

* anything but YAML task files (``*.yaml``, ``*.yml``, lm-eval's extensionless ``*_yaml``
  templates), data (``*.jsonl``, ``*.json``, ``*.csv``, ``*.parquet``) and notes (``*.md``,
  ``*.txt``, not read); Python files (and compiled or packaged Python) are named as such;
* absolute paths, ``..``, backslashes, symbolic links, encrypted or duplicate members;
* zip bombs: too many members, members or a total too large once decompressed, or a
  compression ratio no honest data file reaches (``BundleLimits``); a member is read with a
  bound whatever its header declares;
* YAML tags (``!function`` and every other), YAML that expands past ``max_yaml_nodes`` through
  aliases, ``include`` of a file outside the bundle or in a cycle;
* the settings ``task_config.check_task_config`` refuses (code, unknown metrics, hubs).

``__MACOSX/`` resource forks and ``.DS_Store`` files that archivers add are skipped.
"""

from __future__ import annotations

import fnmatch
import io
import posixpath
import stat
import zipfile
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import yaml

from evaluation.harness.tables import DataFileError, DataLimits, concat_tables, read_table
from evaluation.harness.task_config import (
    DataSource,
    TaskConfigError,
    check_task_config,
    splits_used,
)

YAML_SUFFIXES = (".yaml", ".yml", "_yaml")
DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
NOTE_SUFFIXES = (".md", ".txt")
CODE_SUFFIXES = (
    ".py",
    ".pyc",
    ".pyo",
    ".pyw",
    ".pyx",
    ".pyd",
    ".pyi",
    ".pth",
    ".so",
    ".ipynb",
    ".whl",
    ".egg",
)
SKIPPED = ("__MACOSX/",)
SKIPPED_NAMES = (".DS_Store",)


class BundleRefused(ValueError):
    """The bundle may not be used; ``member`` names the file at fault when there is one."""

    def __init__(self, message: str, member: str | None = None) -> None:
        super().__init__(f"{member}: {message}" if member else message)
        self.member = member
        self.reason = message


@dataclass(frozen=True)
class BundleLimits:
    """How large a bundle may be, compressed and once decompressed."""

    max_zip_bytes: int = 64 * 1024 * 1024
    max_members: int = 256
    max_member_bytes: int = 128 * 1024 * 1024
    max_total_bytes: int = 256 * 1024 * 1024
    max_yaml_bytes: int = 256 * 1024
    max_ratio: int = 200
    ratio_floor_bytes: int = 1024 * 1024
    max_yaml_nodes: int = 50_000
    data: DataLimits = field(default_factory=DataLimits)


@dataclass(frozen=True)
class BundleTask:
    """One task of a bundle: lm-eval settings (no data keys) and its splits."""

    name: str
    source: str
    config: dict[str, Any]
    splits: dict[str, pa.Table]

    def rows(self) -> dict[str, int]:
        return {split: table.num_rows for split, table in self.splits.items()}


def read_bundle(payload: bytes, limits: BundleLimits | None = None) -> list[BundleTask]:
    """Every task of the zip in ``payload``, checked (see the module docstring).
    Raises BundleRefused."""
    limits = limits or BundleLimits()
    members = _members(payload, limits)
    documents = {
        name: _yaml(name, data, limits) for name, data in members.items() if _is_yaml(name)
    }
    tasks = []
    for name in sorted(documents):
        if "task" in documents[name] or "group" in documents[name]:
            tasks.append(_task(name, documents, members, limits))
    if not tasks:
        raise BundleRefused("the bundle holds no task (a YAML file with a 'task' name)")
    seen: dict[str, str] = {}
    for task in tasks:
        if task.name in seen:
            raise BundleRefused(
                f"task '{task.name}' is also defined in {seen[task.name]}", task.source
            )
        seen[task.name] = task.source
    return tasks


# --- the zip ------------------------------------------------------------------------------


def _members(payload: bytes, limits: BundleLimits) -> dict[str, bytes]:
    if len(payload) > limits.max_zip_bytes:
        raise BundleRefused(f"the bundle is larger than {limits.max_zip_bytes} bytes")
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise BundleRefused(f"not a zip file ({exc})") from exc
    with archive:
        infos = [i for i in archive.infolist() if not _skipped(i)]
        if len(infos) > limits.max_members:
            raise BundleRefused(f"more than {limits.max_members} files")
        if sum(i.file_size for i in infos) > limits.max_total_bytes:
            raise BundleRefused(f"more than {limits.max_total_bytes} bytes once decompressed")
        members: dict[str, bytes] = {}
        for info in infos:
            name = _checked_name(info)
            if name in members:
                raise BundleRefused("appears twice", name)
            data = _read(archive, info, name, limits)
            if data is not None:
                members[name] = data
    return members


def _skipped(info: zipfile.ZipInfo) -> bool:
    return (
        info.is_dir()
        or info.filename.startswith(SKIPPED)
        or posixpath.basename(info.filename) in SKIPPED_NAMES
    )


def _checked_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    lowered = name.lower()
    if lowered.endswith(CODE_SUFFIXES):
        raise BundleRefused("Python code is not allowed in a task bundle", name)
    if "\\" in name or "\x00" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise BundleRefused("absolute or Windows paths are not allowed", name)
    normal = posixpath.normpath(name)
    if normal.startswith("..") or "/../" in f"/{name}/" or len(name) > 255:
        raise BundleRefused("paths may not leave the bundle", name)
    if stat.S_ISLNK(info.external_attr >> 16):
        raise BundleRefused("symbolic links are not allowed", name)
    if info.flag_bits & 0x1:
        raise BundleRefused("encrypted members are not supported", name)
    if not lowered.endswith(YAML_SUFFIXES + DATA_SUFFIXES + NOTE_SUFFIXES):
        raise BundleRefused(
            "only task YAML, JSONL/JSON/CSV/Parquet data and .md/.txt notes are allowed", name
        )
    return normal


def _read(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limits: BundleLimits
) -> bytes | None:
    """A member's bytes, read with a bound (a header may lie about the size); None for notes."""
    if name.lower().endswith(NOTE_SUFFIXES):
        return None
    bound = limits.max_yaml_bytes if _is_yaml(name) else limits.max_member_bytes
    if info.file_size > bound:
        raise BundleRefused(f"larger than {bound} bytes", name)
    if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(
        info.compress_size, 1
    ):
        raise BundleRefused("compressed beyond any plausible ratio (a zip bomb?)", name)
    try:
        with archive.open(info) as stream:
            data = stream.read(bound + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
        raise BundleRefused(f"cannot be read ({exc})", name) from exc
    if len(data) > bound or len(data) != info.file_size:
        raise BundleRefused("its size does not match the zip's header", name)
    return data


def _is_yaml(name: str) -> bool:
    return name.lower().endswith(YAML_SUFFIXES)


# --- YAML ---------------------------------------------------------------------------------


class _BundleLoader(yaml.SafeLoader):
    """Plain YAML only: every tag beyond the standard ones is refused."""


def _refuse_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if suffix == "!function":
        raise yaml.constructor.ConstructorError(
            None, None, "'!function' loads Python code, which is not allowed", node.start_mark
        )
    raise yaml.constructor.ConstructorError(
        None, None, f"the YAML tag {suffix!r} is not allowed", node.start_mark
    )


_BundleLoader.add_multi_constructor("!", _refuse_tag)
_BundleLoader.add_multi_constructor("tag:yaml.org,2002:python/", _refuse_tag)


def _yaml(name: str, data: bytes, limits: BundleLimits) -> dict[str, Any]:
    try:
        loaded = yaml.load(data.decode("utf-8-sig"), Loader=_BundleLoader)  # noqa: S506 - a SafeLoader subclass
    except UnicodeDecodeError as exc:
        raise BundleRefused("not UTF-8 text", name) from exc
    except yaml.YAMLError as exc:
        raise BundleRefused(f"invalid YAML: {exc}", name) from exc
    if not isinstance(loaded, dict):
        raise BundleRefused("a task YAML file must hold a mapping", name)
    if _size(loaded, limits.max_yaml_nodes) > limits.max_yaml_nodes:
        raise BundleRefused("too large once its aliases are expanded", name)
    return loaded


def _size(value: Any, budget: int) -> int:
    """Nodes in ``value`` counted as if aliases were copies, stopping past ``budget``."""
    count, stack = 0, [value]
    while stack and count <= budget:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def _merged(
    name: str, documents: dict[str, dict[str, Any]], chain: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A YAML file with its ``include``s resolved as lm-eval resolves them: included files
    first (their ``task_list`` dropped), the including file's keys winning."""
    if name in chain:
        raise BundleRefused("include cycle: " + " -> ".join((*chain, name)), name)
    document = dict(documents[name])
    includes = document.pop("include", [])
    merged: dict[str, Any] = {}
    for target in includes if isinstance(includes, list) else [includes]:
        path = _inside(name, target)
        if path not in documents:
            raise BundleRefused(
                f"includes {target!r}, which is not a YAML file of the bundle", name
            )
        included = _merged(path, documents, (*chain, name))
        included.pop("task_list", None)
        merged.update(included)
    merged.update(document)
    return merged


def _inside(base: str, target: Any) -> str:
    """``target`` relative to the directory of ``base``; refused if it leaves the bundle."""
    if not isinstance(target, str) or not target or target.startswith("/") or "\\" in target:
        raise BundleRefused(f"include {target!r} must be a relative path inside the bundle", base)
    path = posixpath.normpath(posixpath.join(posixpath.dirname(base), target))
    if path.startswith(".."):
        raise BundleRefused(f"include {target!r} leaves the bundle", base)
    return path


# --- tasks --------------------------------------------------------------------------------


def _task(
    name: str, documents: dict[str, dict[str, Any]], members: dict[str, bytes], limits: BundleLimits
) -> BundleTask:
    try:
        config, source = check_task_config(_merged(name, documents))
    except TaskConfigError as exc:
        raise BundleRefused(str(exc), name) from exc
    splits = {
        split: _split(name, split, patterns, source, members, limits)
        for split, patterns in source.files.items()
    }
    missing = sorted(splits_used(config) - set(splits))
    if missing:
        raise BundleRefused(
            f"uses split(s) {', '.join(missing)} that 'data_files' does not define", name
        )
    if not any(config.get(k) for k in ("test_split", "validation_split")):
        raise BundleRefused("needs a 'test_split' or 'validation_split' to evaluate on", name)
    return BundleTask(config["task"], name, config, splits)


def _split(
    yaml_name: str,
    split: str,
    patterns: tuple[str, ...],
    source: DataSource,
    members: dict[str, bytes],
    limits: BundleLimits,
) -> pa.Table:
    files = []
    for pattern in patterns:
        matched = _matching(yaml_name, pattern, members)
        if not matched:
            raise BundleRefused(f"data file {pattern!r} ({split}) is not in the bundle", yaml_name)
        files.extend(matched)
    try:
        tables = [read_table(f, members[f], source.format, limits.data) for f in files]
        return concat_tables(tables, f"{yaml_name} ({split})")
    except DataFileError as exc:
        raise BundleRefused(str(exc), yaml_name) from exc


def _matching(yaml_name: str, pattern: str, members: dict[str, bytes]) -> list[str]:
    """Data members matching ``pattern`` (a name or a glob), looked up next to the YAML file
    first, then from the bundle's root."""
    for base in (posixpath.dirname(yaml_name), ""):
        path = _inside(yaml_name, pattern) if base else posixpath.normpath(pattern)
        if path.startswith("..") or path.startswith("/"):
            raise BundleRefused(f"data file {pattern!r} leaves the bundle", yaml_name)
        found = sorted(
            m for m in members if m.lower().endswith(DATA_SUFFIXES) and fnmatch.fnmatchcase(m, path)
        )
        if found:
            return found
    return []
