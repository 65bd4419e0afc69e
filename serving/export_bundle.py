"""Passphrase-encrypted export bundles of model weights. Pure Python (no Django).

Layout: ``SOBEXP1`` (7 bytes) | salt (16) | nonce (12) | AES-256-GCM ciphertext of a zip
archive, with the magic and salt as associated data. The key is scrypt(passphrase, salt,
n=2**15, r=8, p=1). The zip holds ``model.safetensors``, ``config.json``, ``tokenizer.json``,
``tokenizer_config.json`` and ``export.json`` (lineage), or, for a GGUF export, ``model.gguf``
and ``export.json``.

Open a bundle where you want the weights::

    python -m serving.export_bundle model.sobexp out_dir/    # asks for the passphrase
    llama-cli -m out_dir/model.gguf                          # a GGUF export, with llama.cpp
"""

from __future__ import annotations

import getpass
import io
import os
import sys
import zipfile
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"SOBEXP1"
SALT_BYTES = 16
NONCE_BYTES = 12
MIN_PASSPHRASE = 12


class BundleError(ValueError):
    """Not a bundle, or the passphrase is wrong, or the bundle was altered."""


def _key(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode("utf-8"))


def zip_files(files: dict[str, bytes]) -> bytes:
    """A zip archive (in memory) of ``{name: content}``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def seal(payload: bytes, passphrase: str) -> bytes:
    """Encrypt ``payload`` under ``passphrase``; raises BundleError for a short passphrase."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise BundleError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
    salt, nonce = os.urandom(SALT_BYTES), os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key(passphrase, salt)).encrypt(nonce, payload, MAGIC + salt)
    return MAGIC + salt + nonce + sealed


def open_bundle(bundle: bytes, passphrase: str) -> bytes:
    """The zip archive inside ``bundle``; raises BundleError for a wrong passphrase or any
    change to the bundle."""
    if not bundle.startswith(MAGIC) or len(bundle) < len(MAGIC) + SALT_BYTES + NONCE_BYTES + 16:
        raise BundleError("not a Soberana export bundle")
    salt = bundle[len(MAGIC) : len(MAGIC) + SALT_BYTES]
    nonce = bundle[len(MAGIC) + SALT_BYTES : len(MAGIC) + SALT_BYTES + NONCE_BYTES]
    body = bundle[len(MAGIC) + SALT_BYTES + NONCE_BYTES :]
    try:
        return AESGCM(_key(passphrase, salt)).decrypt(nonce, body, MAGIC + salt)
    except InvalidTag as exc:
        raise BundleError("wrong passphrase, or the bundle was altered") from exc


def main(argv: list[str]) -> int:
    """``python -m serving.export_bundle BUNDLE OUT_DIR``: decrypt and unpack a bundle."""
    if len(argv) != 2:
        print(__doc__)
        return 2
    bundle, out = Path(argv[0]), Path(argv[1])
    try:
        payload = open_bundle(bundle.read_bytes(), getpass.getpass("Passphrase: "))
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        archive.extractall(out)
    print(f"unpacked into {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
