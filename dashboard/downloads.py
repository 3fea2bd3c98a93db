"""Recordings downloaded straight from disk by the server, never through a page's memory.

A 10-minute segment at the high tier is about 450 MB; a ``st.download_button`` would read it
whole into the Streamlit process (beside the broadcast) and keep it for the session. When the
dashboard runs as ``streamlit run server.py``, server.py mounts ``route()`` and calls
``enable()``; a page then hands out a link signed (itsdangerous, with a secret made for this
process) for one recording's path, valid for ``LINK_SECONDS``. The route checks the signature
before it touches the disk and streams the file in chunks, up to the size it had when the request
came (a segment still being written grows). Without server.py (``streamlit run app.py``, e.g. on
Streamlit Community Cloud) ``link`` gives None and the page falls back to the download button.

Who may have a link is who may see the Streams page: the same rule as the button before it.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeTimedSerializer

LINK_SECONDS = 600
CHUNK_BYTES = 256 * 1024
PATH = "recordings/{name}"  # below the server's base URL path

_signer = URLSafeTimedSerializer(secrets.token_bytes(32), salt="ai-council-recording-download")
_enabled = False


def enable() -> None:
    global _enabled
    _enabled = True


def link(path: Path) -> str | None:
    """A relative link that downloads this recording (the page's URL is the base), or None when
    no server route serves downloads in this process."""
    if not _enabled:
        return None
    return f"{PATH.format(name=quote(path.name))}?token={_signer.dumps(str(path.resolve()))}"


def signed_path(name: str, token: str, max_age: int = LINK_SECONDS) -> Path | None:
    """The recording a link names, if its token is genuine, unexpired and for this very name."""
    try:
        path = Path(_signer.loads(token, max_age=max_age))
    except (BadSignature, TypeError, ValueError):  # SignatureExpired is a BadSignature
        return None
    return path if path.name == name else None


def read_upto(path: Path, size: int) -> Iterator[bytes]:
    """The file's first ``size`` bytes in chunks (a segment being written may grow meanwhile)."""
    with path.open("rb") as handle:
        left = size
        while left > 0:
            chunk = handle.read(min(CHUNK_BYTES, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def route(base_url_path: str = ""):  # -> starlette.routing.Route (starlette comes with streamlit)
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def download(request: Request) -> Response:
        name = request.path_params["name"]
        path = signed_path(name, request.query_params.get("token", ""))
        if path is None:
            return PlainTextResponse("This download link is not valid or has expired: open the Streams page "
                                     "and click Download again.", status_code=403)
        try:
            size = path.stat().st_size
        except OSError:
            return PlainTextResponse("This recording no longer exists (removed by retention?).", status_code=404)
        headers = {"Content-Length": str(size), "Content-Disposition": f'attachment; filename="{path.name}"',
                   "Cache-Control": "no-store"}
        return StreamingResponse(read_upto(path, size), media_type="video/mp2t", headers=headers)

    base = base_url_path.strip("/")
    return Route(f"/{base + '/' if base else ''}{PATH}", download, methods=["GET"])
