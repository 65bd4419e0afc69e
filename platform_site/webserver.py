"""The embedded web server of ``make run``: waitress serving ``platform_site.wsgi``.

Why waitress and not gunicorn's threads: gunicorn hands a connection to a thread as soon as it
is readable and that thread then blocks until the request is complete, so nine clients sending
half a request (or a body that never ends) took every thread and ``/healthz`` timed out.
Waitress reads requests on one asynchronous I/O loop and gives a request to a worker thread only
once it has been received whole, so idle and trickling connections cost a socket, never a
thread; answers are written back by the same loop, flushed as produced (``send_bytes`` 1), so
streamed answers (SSE on ``/v1/chat/completions``) still arrive token by token.

Bodies are buffered in memory up to the upload limit (``inbuf_overflow``): waitress would
otherwise spill a larger body to a temporary file, which would put raw uploads on disk in clear.
Large files should use the chunked upload API (8 MiB chunks); in docker-compose the reverse
proxy buffers and limits bodies in front of this server.

Run as ``python -m platform_site.webserver --port 8000 [--bind 127.0.0.1] [--threads 8]``.
"""

from __future__ import annotations

import argparse
import os

# Room for multipart framing around the largest allowed file (as ops.middleware).
BODY_OVERHEAD = 1024 * 1024
CONNECTION_LIMIT = 4000  # idle connections are cheap here; the file-descriptor limit is not
IDLE_SECONDS = 60  # a connection with no request in flight is closed after this long


def serve(port: int, bind: str = "127.0.0.1", threads: int = 8) -> None:
    """Serve the platform until the process is signalled (SIGTERM stops it at once)."""
    import waitress
    from django.conf import settings

    from platform_site.wsgi import application

    body_limit = settings.MAX_UPLOAD_BYTES + BODY_OVERHEAD
    waitress.serve(
        application,
        host=bind,
        port=port,
        threads=threads,
        connection_limit=CONNECTION_LIMIT,
        channel_timeout=IDLE_SECONDS,
        max_request_body_size=body_limit,
        inbuf_overflow=body_limit,
        ident="soberana",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--bind", default=os.environ.get("SOBERANA_BIND", "127.0.0.1"))
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")
    serve(args.port, args.bind, args.threads)


if __name__ == "__main__":
    main()
