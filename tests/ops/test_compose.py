"""docker-compose.yml is valid against the Compose specification and keeps its promises."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# shared/ sits beside the checkout (CI) or two levels up (a worktree under /work/wt/).
SCHEMA = next(
    (
        base / "shared" / "schemas" / "compose-spec.json"
        for base in (ROOT.parent, ROOT.parent.parent)
        if (base / "shared" / "schemas" / "compose-spec.json").exists()
    ),
    ROOT.parent / "shared" / "schemas" / "compose-spec.json",
)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.mark.skipif(not SCHEMA.exists(), reason=f"compose schema not found at {SCHEMA}")
def test_compose_file_validates_against_the_compose_spec(compose: dict) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(compose, schema)


def test_compose_has_every_service_with_health_checks_where_needed(compose: dict) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "gpu-worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "web"):
        assert "healthcheck" in services[name], name


def test_gpu_worker_takes_the_training_queue_alone_with_a_gpu_reservation(compose: dict) -> None:
    gpu = compose["services"]["gpu-worker"]
    command = gpu["command"]
    assert command[command.index("-Q") + 1] == "training"
    assert command[command.index("--concurrency") + 1] == "1"
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia"


def test_gpu_worker_image_carries_bitsandbytes_for_qlora(compose: dict) -> None:
    gpu = compose["services"]["gpu-worker"]
    assert gpu["build"]["args"]["GPU_EXTRAS"] == "1"
    assert gpu["image"] != compose["services"]["worker"]["image"]  # CPU images stay lean
    dockerfile = (ROOT / "Dockerfile").read_text()
    gpu_extras = dockerfile[dockerfile.index('if [ "$GPU_EXTRAS" = "1" ]') :]
    gpu_extras = gpu_extras[: gpu_extras.index("fi\n")]
    assert "pip install --no-cache-dir bitsandbytes==" in gpu_extras
    assert "gcc" in gpu_extras  # Triton builds its launchers with it (compiled layers)


def test_no_default_secrets_in_compose(compose: dict) -> None:
    text = (ROOT / "docker-compose.yml").read_text().lower()
    assert "requirepass" in text  # Redis requires a password
    for secret in compose["secrets"].values():
        assert set(secret) == {"file"}  # every secret is a file the operator creates
    for service in compose["services"].values():
        for key in service.get("environment") or {}:
            sensitive = any(word in key for word in ("SECRET", "PASSWORD", "MASTER_KEY"))
            assert not sensitive or key.endswith("_FILE"), key


PROXY_CONF = ROOT / "ops" / "proxy" / "default.conf.template"


def test_a_tls_proxy_is_the_only_published_service(compose: dict) -> None:
    """Issue 18 item 1: slow clients wait at a buffering proxy, TLS from the operator's files."""
    services = compose["services"]
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"proxy"}
    proxy = services["proxy"]
    assert set(proxy["secrets"]) == {"tls_cert", "tls_key"}
    assert compose["secrets"]["tls_cert"] == {"file": "./secrets/tls.crt"}
    conf = PROXY_CONF.read_text()
    assert "ssl_certificate     /run/secrets/tls_cert;" in conf
    assert "platform_site.webserver" in " ".join(services["web"]["command"])


def test_proxy_limits_bodies_to_the_upload_limit_and_keeps_long_timeouts_for_streams(
    compose: dict,
) -> None:
    import re

    conf = PROXY_CONF.read_text()
    assert "client_max_body_size    ${SOBERANA_MAX_UPLOAD_MB}m;" in conf
    assert (
        compose["services"]["proxy"]["environment"]["SOBERANA_MAX_UPLOAD_MB"]
        == (compose["x-app"]["environment"]["SOBERANA_MAX_UPLOAD_MB"])
    )
    server = conf[conf.index("listen 443") :]
    default = server[: server.index("location")]
    long_timeouts = re.findall(r"(\w+_timeout)\s+(\d+)s;", default)
    assert long_timeouts and all(int(s) <= 60 for _, s in long_timeouts), long_timeouts
    locations = re.split(r"\n    location ", server)[1:]
    for block in locations:
        timeouts = [int(s) for _, s in re.findall(r"(\w+_timeout)\s+(\d+)s;", block)]
        if any(t > 60 for t in timeouts):
            assert "completions" in block or "uploads" in block, block
    assert "proxy_buffering    off;" in conf  # SSE streams through
