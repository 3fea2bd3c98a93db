"""The dashboard's server: ``streamlit run server.py`` serves the pages of app.py and starts the
backend with the server, not at the first visit, so that debates run after a restart with nobody
at a browser; stopping the server (SIGTERM, Ctrl+C) stops the backend cleanly. It also serves
recording downloads straight from disk.
"""

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import streamlit as st
from streamlit import config

from dashboard import downloads
from dashboard.runtime import start_backend, stop_backends


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    start_backend()
    try:
        yield
    finally:
        stop_backends()


# Recordings stream from disk through a route of this server (a download button would read each
# file whole into memory); see dashboard/downloads.py.
app = st.App("app.py", lifespan=lifespan, routes=[downloads.route(config.get_option("server.baseUrlPath"))])
downloads.enable()
