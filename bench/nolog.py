"""The service with disclosure logging switched off: the "same read without logging" that a
logged release is compared with. A benchmark harness only; never deployed.

    uvicorn bench.nolog:app
"""

from __future__ import annotations

from typing import Any

from app.disclosures import releases
from app.main import create_app


async def _no_log(*args: Any, **kwargs: Any) -> None:
    return None


releases.log_disclosures = _no_log  # type: ignore[assignment]
app = create_app()
