"""Task bundles built in memory for the tests: zips of lm-eval YAML and data."""

from __future__ import annotations

import io
import json
import stat
import zipfile

MC_YAML = """\
task: capitals_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: data/capitals.jsonl
output_type: multiple_choice
test_split: test
doc_to_text: "Question: {{question}}\\nAnswer:"
doc_to_choice: "{{choices}}"
doc_to_target: label
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""

TEMPLATE_YAML = """\
dataset_path: csv
output_type: generate_until
doc_to_text: "{{question}} ="
doc_to_target: "{{answer}}"
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 6
  do_sample: false
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
    ignore_case: true
"""

GEN_YAML = """\
include: _arith_template_yaml
task: arithmetic_gen
dataset_kwargs:
  data_files:
    test: arithmetic.csv
test_split: test
"""

CAPITALS = [
    ("France", "Paris", ["Paris", "Lyon", "Nice"]),
    ("Spain", "Madrid", ["Sevilla", "Madrid", "Bilbao"]),
    ("Italy", "Rome", ["Milan", "Turin", "Rome"]),
    ("Germany", "Berlin", ["Berlin", "Bonn", "Hamburg"]),
    ("Portugal", "Lisbon", ["Porto", "Lisbon", "Faro"]),
    ("Japan", "Tokyo", ["Osaka", "Kyoto", "Tokyo"]),
]


def capitals_jsonl() -> bytes:
    lines = [
        json.dumps(
            {
                "question": f"What is the capital of {country}?",
                "choices": [f" {c}" for c in choices],
                "label": choices.index(capital),
            }
        )
        for country, capital, choices in CAPITALS
    ]
    return ("\n".join(lines) + "\n").encode()


def arithmetic_csv() -> bytes:
    rows = ["question,answer"] + [f"{a} + {a},{2 * a}" for a in range(1, 9)]
    return ("\n".join(rows) + "\n").encode()


def standard_files() -> dict[str, bytes | str]:
    return {
        "capitals.yaml": MC_YAML,
        "data/capitals.jsonl": capitals_jsonl(),
        "_arith_template_yaml": TEMPLATE_YAML,
        "arithmetic.yaml": GEN_YAML,
        "arithmetic.csv": arithmetic_csv(),
        "README.md": "Two small tasks.",
    }


def make_zip(
    files: dict[str, bytes | str],
    *,
    symlinks: tuple[str, ...] = (),
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """A zip of ``files`` (names as given, unchecked); ``symlinks`` are stored as links."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            if name in symlinks:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, data)
    return buffer.getvalue()
