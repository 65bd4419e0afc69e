"""Task bundles: what is read, and everything that is refused with its reason."""

from __future__ import annotations

import io
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from evaluation_bundles import MC_YAML, make_zip, standard_files

from evaluation.harness.bundle import BundleLimits, BundleRefused, read_bundle
from evaluation.harness.tables import DataLimits


def _refusal(files: dict[str, bytes | str], **kwargs: object) -> BundleRefused:
    with pytest.raises(BundleRefused) as caught:
        read_bundle(make_zip(files, **kwargs))  # type: ignore[arg-type]
    return caught.value


def test_a_bundle_of_yaml_and_data_is_read_in_memory() -> None:
    tasks = {t.name: t for t in read_bundle(make_zip(standard_files()))}
    assert set(tasks) == {"capitals_mc", "arithmetic_gen"}
    assert tasks["capitals_mc"].rows() == {"test": 6}
    generation = tasks["arithmetic_gen"]
    # The included template's settings are merged in, the data keys are taken out.
    assert generation.config["output_type"] == "generate_until"
    assert generation.config["generation_kwargs"]["max_gen_toks"] == 6
    assert "dataset_path" not in generation.config and "include" not in generation.config
    assert generation.splits["test"].column("answer").to_pylist()[:2] == [2, 4]


def test_parquet_and_json_data_are_read_too() -> None:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([{"q": "a", "a": "b"}] * 3), sink)
    yaml = "task: pq\ndataset_path: parquet\ndataset_kwargs: {data_files: {test: d.parquet}}\ntest_split: test\ndoc_to_text: q\ndoc_to_target: a\n"
    json_yaml = (
        yaml.replace("pq\n", "js\n", 1).replace("parquet", "json").replace("d.json", "d.json")
    )
    files = {
        "pq.yaml": yaml,
        "d.parquet": sink.getvalue(),
        "js.yaml": json_yaml,
        "d.json": '[{"q": "x", "a": "y"}]',
    }
    rows = {t.name: t.rows() for t in read_bundle(make_zip(files))}
    assert rows == {"pq": {"test": 3}, "js": {"test": 1}}


def test_a_bundle_with_a_python_file_is_refused() -> None:
    refusal = _refusal({**standard_files(), "utils.py": "import os\nos.system('id')\n"})
    assert refusal.member == "utils.py" and "Python code" in refusal.reason


@pytest.mark.parametrize("name", ["lib/helper.pyc", "tasks.ipynb", "native.so", "pkg.whl"])
def test_compiled_or_packaged_python_is_refused_too(name: str) -> None:
    assert "Python code" in _refusal({**standard_files(), name: b"\x00"}).reason


def test_a_function_tag_is_refused() -> None:
    yaml = MC_YAML + "process_docs: !function utils.process_docs\n"
    refusal = _refusal({**standard_files(), "capitals.yaml": yaml})
    assert refusal.member == "capitals.yaml" and "!function" in refusal.reason


def test_python_object_tags_are_refused() -> None:
    yaml = MC_YAML + "metadata: !!python/object/apply:os.system ['id']\n"
    assert "not allowed" in _refusal({**standard_files(), "capitals.yaml": yaml}).reason


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("process_results", "utils.score", "Python code"),
        ("class", "MyTask", "Python task classes"),
        ("use_prompt", "promptsource:x", "promptsource"),
        ("unsafe_code", "true", "execute code"),
        ("group", "mine", "groups are not supported"),
        ("trust_me", "1", "not a task setting"),
    ],
)
def test_settings_that_run_or_fetch_code_are_refused(key: str, value: str, reason: str) -> None:
    refusal = _refusal({**standard_files(), "capitals.yaml": MC_YAML + f"{key}: {value}\n"})
    assert reason in refusal.reason and key in refusal.reason


def test_a_metric_lm_eval_does_not_register_is_refused() -> None:
    """lm-eval would hand it to ``evaluate.load``, which downloads and runs a script."""
    yaml = MC_YAML.replace("metric: acc", "metric: ./my_metric.py")
    assert "built-in metrics" in _refusal({**standard_files(), "capitals.yaml": yaml}).reason
    yaml = MC_YAML.replace("    aggregation: mean\n", "    hf_evaluate: true\n", 1)
    assert "hf_evaluate" in _refusal({**standard_files(), "capitals.yaml": yaml}).reason


def test_the_custom_filter_is_refused() -> None:
    yaml = MC_YAML + "filter_list:\n  - name: x\n    filter:\n      - function: custom\n"
    assert (
        "'function' must be one of" in _refusal({**standard_files(), "capitals.yaml": yaml}).reason
    )


def test_a_template_reaching_python_internals_is_refused() -> None:
    yaml = MC_YAML.replace("{{question}}", "{{ question.__class__.__mro__ }}")
    assert "private attributes" in _refusal({**standard_files(), "capitals.yaml": yaml}).reason
    broken = MC_YAML.replace("{{question}}", "{{ question ")
    assert "syntax" in _refusal({**standard_files(), "capitals.yaml": broken}).reason


@pytest.mark.parametrize("path", ["allenai/ai2_arc", "text", "/srv/data"])
def test_datasets_from_a_hub_or_a_path_are_refused(path: str) -> None:
    yaml = MC_YAML.replace("dataset_path: json", f"dataset_path: {path}")
    assert "never downloaded" in _refusal({**standard_files(), "capitals.yaml": yaml}).reason


def test_missing_or_escaping_data_files_are_refused() -> None:
    missing = MC_YAML.replace("data/capitals.jsonl", "data/other.jsonl")
    assert "not in the bundle" in _refusal({**standard_files(), "capitals.yaml": missing}).reason
    escaping = MC_YAML.replace("data/capitals.jsonl", "../../etc/passwd.jsonl")
    assert "leaves the bundle" in _refusal({**standard_files(), "capitals.yaml": escaping}).reason
    wrong_split = MC_YAML.replace("test_split: test", "test_split: validation")
    assert "validation" in _refusal({**standard_files(), "capitals.yaml": wrong_split}).reason


@pytest.mark.parametrize("target", ["../outside.yaml", "/etc/tasks.yaml", "missing_yaml"])
def test_includes_must_stay_inside_the_bundle(target: str) -> None:
    yaml = f"include: {target}\n" + MC_YAML
    refusal = _refusal({**standard_files(), "capitals.yaml": yaml})
    assert refusal.member == "capitals.yaml" and "include" in refusal.reason


def test_an_include_cycle_is_refused() -> None:
    files = {**standard_files(), "a_yaml": "include: b_yaml\n", "b_yaml": "include: a_yaml\n"}
    files["capitals.yaml"] = "include: a_yaml\n" + MC_YAML
    assert "cycle" in _refusal(files).reason


@pytest.mark.parametrize(
    "name", ["../escape.yaml", "/abs.yaml", "dir/../../x.yaml", "C:/x.yaml", "a\\b.yaml"]
)
def test_member_paths_may_not_leave_the_bundle(name: str) -> None:
    refusal = _refusal({**standard_files(), name: MC_YAML})
    assert refusal.member == name


def test_symbolic_links_and_unknown_files_are_refused() -> None:
    files = {**standard_files(), "link.jsonl": "/etc/passwd"}
    assert "symbolic links" in _refusal(files, symlinks=("link.jsonl",)).reason
    assert "only task YAML" in _refusal({**standard_files(), "run.sh": "rm -rf /"}).reason
    assert "only task YAML" in _refusal({**standard_files(), "inner.zip": b"PK"}).reason


def test_archiver_litter_is_skipped() -> None:
    files = {**standard_files(), "__MACOSX/._capitals.yaml": b"\x00\x05", ".DS_Store": b"\x00"}
    assert len(read_bundle(make_zip(files))) == 2


def test_zip_bombs_are_refused() -> None:
    zeros = {**standard_files(), "data/zeros.jsonl": b"\n" * (8 * 1024 * 1024)}
    assert "ratio" in _refusal(zeros).reason
    small = BundleLimits(max_members=3)
    with pytest.raises(BundleRefused, match="more than 3 files"):
        read_bundle(make_zip(standard_files()), small)
    with pytest.raises(BundleRefused, match="once decompressed"):
        read_bundle(make_zip(standard_files()), BundleLimits(max_total_bytes=100))


def test_a_header_that_lies_about_a_size_is_caught() -> None:
    payload = bytearray(make_zip(standard_files(), compression=zipfile.ZIP_STORED))
    # Shrink the declared size of the JSONL in the central directory: the member holds more.
    archive = zipfile.ZipFile(io.BytesIO(bytes(payload)))
    info = archive.getinfo("data/capitals.jsonl")
    central = payload.rfind(
        b"PK\x01\x02", 0, payload.find(b"data/capitals.jsonl", payload.find(b"PK\x01\x02")) + 1
    )
    size_at = central + 24
    assert int.from_bytes(payload[size_at : size_at + 4], "little") == info.file_size
    payload[size_at : size_at + 4] = (info.file_size - 10).to_bytes(4, "little")
    with pytest.raises(BundleRefused, match="capitals.jsonl"):
        read_bundle(bytes(payload))


def test_yaml_that_explodes_through_aliases_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
        for i in range(1, 9)
    ]
    bomb = "\n".join(lines) + "\n" + MC_YAML
    assert "aliases" in _refusal({**standard_files(), "capitals.yaml": bomb}).reason


def test_bad_data_is_refused_with_the_file_named() -> None:
    files = {**standard_files(), "data/capitals.jsonl": b'{"question": "x"}\nnot json\n'}
    assert "capitals.yaml" == _refusal(files).member
    files = {**standard_files(), "data/capitals.jsonl": b"[1, 2]\n"}
    assert "not an object" in _refusal(files).reason
    wrong = MC_YAML.replace("capitals.jsonl", "capitals.csv")
    files = {**standard_files(), "capitals.yaml": wrong, "data/capitals.csv": b"a,b\n1,2\n"}
    assert "'json' task needs" in _refusal(files).reason


def test_parquet_is_checked_before_it_is_decompressed() -> None:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([{"q": "a" * 1000, "a": "b"}] * 50), sink)
    yaml = "task: pq\ndataset_path: parquet\ndataset_kwargs: {data_files: {test: d.parquet}}\ntest_split: test\ndoc_to_text: q\ndoc_to_target: a\n"
    limits = BundleLimits(data=DataLimits(max_uncompressed_bytes=10_000))
    with pytest.raises(BundleRefused, match="larger than allowed"):
        read_bundle(make_zip({"pq.yaml": yaml, "d.parquet": sink.getvalue()}), limits)


def test_a_bundle_needs_tasks_with_unique_names_and_a_split_to_score() -> None:
    assert "no task" in _refusal({"README.md": "nothing"}).reason
    twice = {**standard_files(), "again.yaml": MC_YAML}
    assert "also defined" in _refusal(twice).reason
    no_split = MC_YAML.replace("test_split: test\n", "training_split: test\n")
    assert "test_split" in _refusal({**standard_files(), "capitals.yaml": no_split}).reason


def test_a_file_that_is_not_a_zip_is_refused() -> None:
    with pytest.raises(BundleRefused, match="not a zip"):
        read_bundle(b"task: x\n")
    with pytest.raises(BundleRefused, match="larger than"):
        read_bundle(make_zip(standard_files()), BundleLimits(max_zip_bytes=10))
