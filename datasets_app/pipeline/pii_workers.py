"""Forked NER worker processes that talk JSON over pipes (no pickle anywhere).

The parent has already loaded the spaCy pipelines; ``fork`` gives each child
a copy-on-write view of them, so starting a worker costs milliseconds and no
model is re-read. Requests and answers are ``json`` bytes sent with
``Connection.send_bytes``/``recv_bytes`` (which never unpickle). The parent
works on one share of every batch itself while the children do theirs.

``ForkedNerPool.create`` returns None where forking is impossible or unsafe:
no ``fork`` start method (macOS/Windows default), or a daemonic process such
as a Celery prefork child (daemons may not have children). Callers then run
in-process.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import weakref
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection

from spacy.language import Language

logger = logging.getLogger(__name__)
Entity = tuple[int, int, str]
MIN_CHARS_FOR_POOL = 4_000


class WorkerError(RuntimeError):
    """A NER worker process failed or died."""


def _entities(nlp: Language, texts: list[str], batch_size: int) -> list[list[Entity]]:
    return [
        [(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents]
        for doc in nlp.pipe(texts, batch_size=batch_size)
    ]


def _child_loop(conn: Connection, nlp_by_language: Mapping[str, Language], batch_size: int) -> None:
    """Serve ``{"lang", "texts"}`` requests until EOF or a JSON ``null``."""
    while True:
        try:
            request = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        if request is None:
            return
        try:
            answer: object = _entities(
                nlp_by_language[request["lang"]], request["texts"], batch_size
            )
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        conn.send_bytes(json.dumps(answer).encode())


def _split_by_chars(texts: Sequence[str], parts: int) -> list[list[str]]:
    """Contiguous chunks of roughly equal character count (order preserved)."""
    total = sum(len(t) for t in texts)
    chunks: list[list[str]] = [[] for _ in range(parts)]
    index, running = 0, 0
    for text in texts:
        if running > total * (index + 1) / parts and index < parts - 1:
            index += 1
        chunks[index].append(text)
        running += len(text)
    return chunks


def _shutdown(connections: list[Connection], processes: list[multiprocessing.Process]) -> None:
    for conn in connections:
        try:
            conn.send_bytes(b"null")
            conn.close()
        except OSError:
            pass
    for process in processes:
        process.join(timeout=2)
        if process.is_alive():
            process.terminate()


class ForkedNerPool:
    """``n_children`` forked processes plus the parent share NER batches."""

    def __init__(
        self, nlp_by_language: Mapping[str, Language], n_children: int, batch_size: int = 128
    ) -> None:
        context = multiprocessing.get_context("fork")
        self.nlp_by_language = nlp_by_language
        self.batch_size = batch_size
        self._connections: list[Connection] = []
        self._processes: list[multiprocessing.Process] = []
        for _ in range(n_children):
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=_child_loop, args=(child_end, nlp_by_language, batch_size), daemon=True
            )
            process.start()
            child_end.close()
            self._connections.append(parent_end)
            self._processes.append(process)
        self._finalizer = weakref.finalize(self, _shutdown, self._connections, self._processes)

    @classmethod
    def create(
        cls, nlp_by_language: Mapping[str, Language], n_process: int, batch_size: int = 128
    ) -> ForkedNerPool | None:
        """A pool with ``n_process - 1`` children, or None when forking is unavailable/unsafe."""
        if n_process <= 1 or multiprocessing.current_process().daemon:
            return None
        if "fork" not in multiprocessing.get_all_start_methods():
            return None
        return cls(nlp_by_language, n_process - 1, batch_size)

    def worth_it(self, texts: Sequence[str]) -> bool:
        """Only large batches repay the JSON round trip."""
        return len(texts) > len(self._connections) and sum(map(len, texts)) >= MIN_CHARS_FOR_POOL

    def map(self, language: str, texts: Sequence[str]) -> list[list[Entity]]:
        """Entities per text, computed by the children and the parent in parallel."""
        chunks = _split_by_chars(texts, len(self._connections) + 1)
        for conn, chunk in zip(self._connections, chunks[1:], strict=True):
            conn.send_bytes(json.dumps({"lang": language, "texts": chunk}).encode())
        results = _entities(self.nlp_by_language[language], chunks[0], self.batch_size)
        answers = [self._receive(conn) for conn in self._connections]  # drain all before raising
        for answer in answers:
            if not isinstance(answer, list):
                raise WorkerError(str(answer))
            results.extend([(s, e, label) for s, e, label in ents] for ents in answer)
        return results

    @staticmethod
    def _receive(conn: Connection) -> object:
        """One decoded answer, or an error description when the child is gone."""
        try:
            answer = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return "NER worker died"
        return answer.get("error", answer) if isinstance(answer, dict) else answer

    def close(self) -> None:
        """Stop the children (also done automatically when the pool is garbage-collected)."""
        self._finalizer()
