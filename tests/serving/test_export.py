"""Export of merged weights: owners only, password typed again, audited, encrypted by default."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from audit.models import AuditEvent
from serving import export_bundle

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "pw-Long-123!"  # the cast's password
PASSPHRASE = "correct horse battery staple"


def _export(api_client_for: Any, user: Any, version: Any, **extra: Any) -> Any:
    body = {"model_version": version.pk, "password": PASSWORD, "passphrase": PASSPHRASE, **extra}
    return api_client_for(user).post("/api/v1/model-exports/", body, format="json")


def test_owner_gets_an_encrypted_bundle_of_loadable_merged_safetensors(
    cast: Any, api_client_for: Any, fine_tuned_version: Any, tmp_path: Any
) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    response = _export(api_client_for, cast.owner, fine_tuned_version)
    assert response.status_code == 200, response.content
    assert response["Content-Disposition"].endswith('.sobexp"')
    bundle = response.content
    assert bundle.startswith(export_bundle.MAGIC) and b"safetensors" not in bundle
    with pytest.raises(export_bundle.BundleError):
        export_bundle.open_bundle(bundle, "a wrong passphrase")
    with zipfile.ZipFile(io.BytesIO(export_bundle.open_bundle(bundle, PASSPHRASE))) as archive:
        assert {"model.safetensors", "config.json", "tokenizer.json"} <= set(archive.namelist())
        archive.extractall(tmp_path)
    model = AutoModelForCausalLM.from_pretrained(tmp_path, use_safetensors=True)
    assert not any("lora" in name for name, _ in model.named_parameters())
    with torch.no_grad():
        assert model(torch.tensor([[1, 2, 3]])).logits.shape[-1] == model.config.vocab_size
    event = AuditEvent.objects.get(action="model.export", outcome="allowed")
    assert event.details["format"] == "encrypted"


def test_wrong_password_is_refused_and_audited(
    cast: Any, api_client_for: Any, fine_tuned_version: Any
) -> None:
    response = _export(api_client_for, cast.owner, fine_tuned_version, password="nope")
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="model.export", outcome="denied").count() == 1


def test_only_owners_may_export(cast: Any, api_client_for: Any, fine_tuned_version: Any) -> None:
    for role in ("engineer", "steward", "viewer"):
        assert _export(api_client_for, getattr(cast, role), fine_tuned_version).status_code == 403
    assert _export(api_client_for, cast.outsider, fine_tuned_version).status_code == 400


def test_short_passphrase_is_refused_but_plain_zip_may_be_asked_for(
    cast: Any, api_client_for: Any, fine_tuned_version: Any
) -> None:
    short = _export(api_client_for, cast.owner, fine_tuned_version, passphrase="short")
    assert short.status_code == 400 and "passphrase" in short.json()["error"]["message"]
    refused = AuditEvent.objects.get(action="model.export", outcome="denied")
    assert refused.details["reason"] == "passphrase" and refused.actor_username == "owner"
    plain = _export(api_client_for, cast.owner, fine_tuned_version, format="plain", passphrase="")
    assert plain.status_code == 200 and plain["Content-Type"] == "application/zip"
    assert "model.safetensors" in zipfile.ZipFile(io.BytesIO(plain.content)).namelist()
