"""Fixtures shared by the integration tests."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.test_streaming_nginx import MODULE, NGINX, NginxRtmp


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[NginxRtmp]:
    """nginx with its RTMP module on free 127.0.0.1 ports (installed by scripts/test.sh)."""
    if not (MODULE.exists() and Path(NGINX).exists()):
        pytest.fail("nginx with libnginx-mod-rtmp is needed; scripts/test.sh installs it (apt-get, as root)")
    server = NginxRtmp(tmp_path / "nginx")
    yield server
    server.stop()
