"""GGUF export through the API: the same owner-only, re-authenticated, audited, encrypted-by-
default path as safetensors, with ``model.gguf`` in the bundle."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from audit.models import AuditEvent
from serving import export_bundle

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "pw-Long-123!"  # the cast's password
PASSPHRASE = "correct horse battery staple"
SAMPLE = "<|im_start|>user\nPlease summarise the quarterly report, 2024.<|im_end|>\n"


def _export(api_client_for: Any, user: Any, version: Any, **extra: Any) -> Any:
    body = {
        "model_version": version.pk,
        "password": PASSWORD,
        "passphrase": PASSPHRASE,
        "weights": "gguf",
        **extra,
    }
    return api_client_for(user).post("/api/v1/model-exports/", body, format="json")


def _unpack(archive: bytes, into: Path) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        opened.extractall(into)
        return set(opened.namelist())


def test_owner_gets_an_encrypted_bundle_whose_gguf_computes_like_the_safetensors_export(
    cast: Any, api_client_for: Any, fine_tuned_version: Any, tmp_path: Path
) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    response = _export(api_client_for, cast.owner, fine_tuned_version)
    assert response.status_code == 200, response.content
    assert response["Content-Disposition"].endswith('-gguf.sobexp"')
    bundle = response.content
    assert bundle.startswith(export_bundle.MAGIC) and b"tokenizer.ggml.tokens" not in bundle
    names = _unpack(export_bundle.open_bundle(bundle, PASSPHRASE), tmp_path / "gguf")
    assert names == {"model.gguf", "export.json"}
    safetensors = _export(
        api_client_for, cast.owner, fine_tuned_version, weights="safetensors", format="plain"
    )
    _unpack(safetensors.content, tmp_path / "hf")

    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "hf", dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "hf")
    loaded = AutoModelForCausalLM.from_pretrained(
        tmp_path / "gguf", gguf_file="model.gguf", dtype=torch.float32
    ).eval()
    gguf_tokenizer = AutoTokenizer.from_pretrained(tmp_path / "gguf", gguf_file="model.gguf")

    ids = tokenizer.encode(SAMPLE)
    assert gguf_tokenizer.encode(SAMPLE) == ids
    with torch.no_grad():
        expected = merged(torch.tensor([ids])).logits
        torch.testing.assert_close(loaded(torch.tensor([ids])).logits, expected, atol=5e-3, rtol=0)
    weights = [
        e.details["weights"]
        for e in AuditEvent.objects.filter(action="model.export", outcome="allowed").order_by("pk")
    ]
    assert weights == ["gguf", "safetensors"]


def test_plain_format_returns_an_unencrypted_zip_holding_the_gguf(
    cast: Any, api_client_for: Any, fine_tuned_version: Any
) -> None:
    response = _export(api_client_for, cast.owner, fine_tuned_version, format="plain")

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.read("model.gguf")[:4] == b"GGUF"
        assert b'"weights": "gguf"' in archive.read("export.json")


def test_only_owners_may_export_gguf(
    cast: Any, api_client_for: Any, fine_tuned_version: Any
) -> None:
    for role in ("engineer", "steward", "viewer"):
        assert _export(api_client_for, getattr(cast, role), fine_tuned_version).status_code == 403
    assert _export(api_client_for, cast.outsider, fine_tuned_version).status_code == 400
    assert not AuditEvent.objects.filter(action="model.export", outcome="allowed").exists()


def test_wrong_password_is_refused_and_the_denial_records_the_weights_format(
    cast: Any, api_client_for: Any, fine_tuned_version: Any
) -> None:
    response = _export(api_client_for, cast.owner, fine_tuned_version, password="nope")

    assert response.status_code == 403
    denied = AuditEvent.objects.get(action="model.export", outcome="denied")
    assert denied.details["weights"] == "gguf"


def test_an_unknown_weights_format_is_a_400(
    cast: Any, api_client_for: Any, fine_tuned_version: Any
) -> None:
    response = _export(api_client_for, cast.owner, fine_tuned_version, weights="pickle")

    assert response.status_code == 400 and "weights" in response.json()["error"]["message"]


def test_a_model_without_a_gguf_form_is_a_clear_400_not_a_500(
    cast: Any, api_client_for: Any, fine_tuned_version: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No other architecture trains in a test's time, so the decrypted model is swapped for a
    tiny GPT-2 where the export loads it."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from serving import export
    from trainer.engine.tokenizer_build import BUILTIN_CORPUS, train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer(BUILTIN_CORPUS, vocab_size=600)
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=1, n_head=2))
    monkeypatch.setattr(export, "_load_merged", lambda _version: (gpt2, tokenizer))

    response = _export(api_client_for, cast.owner, fine_tuned_version)

    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "weights" in message and "Llama-architecture" in message
    assert not AuditEvent.objects.filter(action="model.export", outcome="allowed").exists()
