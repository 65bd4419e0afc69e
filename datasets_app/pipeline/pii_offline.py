"""Keep third-party libraries off the network at run time.

tldextract (used by Presidio's email recognizer and by our email scoring)
would otherwise download the public suffix list on first use; here it is
pinned to the snapshot bundled with the package, with no disk cache.
Hugging Face libraries are told to stay offline too.
"""

from __future__ import annotations

import os
from functools import lru_cache

import tldextract
import tldextract.tldextract as tldextract_module

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@lru_cache(maxsize=1)
def offline_tld_extractor() -> tldextract.TLDExtract:
    """A TLDExtract that only uses the bundled snapshot (no cache dir, no HTTP)."""
    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


def configure_offline_tldextract() -> None:
    """Point tldextract's module-level extractor (the one Presidio calls) at the offline one.

    Also empties ``TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS`` so extractors created
    later default to no URLs, and sets the Hugging Face offline switches.
    Idempotent.
    """
    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    tldextract_module.TLD_EXTRACTOR = offline_tld_extractor()
