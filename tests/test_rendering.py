"""Pages people read, rendered in headless Chromium (Debian's `chromium`, which `make test`
installs when it is missing): the register description and the person's notices, in Finnish
and Swedish. Screenshots go to `var/screenshots/`."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import Actors, bearer

SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"

pytestmark = pytest.mark.slow


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Debian's chromium is needed (make test installs it)"
    return found


def render(html: str, name: str) -> tuple[Path, str]:
    """Screenshots ``html`` (a file, so nothing is fetched from any network) and returns the
    picture and the DOM Chromium built."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = Path(tempfile.mkdtemp(prefix="registry-page-")) / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    shot = SCREENSHOTS / f"{name}.png"
    common = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tempfile.mkdtemp(prefix='registry-chromium-')}",
    ]
    subprocess.run(  # noqa: S603 (Debian's chromium on a file we wrote)
        [*common, f"--screenshot={shot}", "--window-size=1000,1800", page.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    dom = subprocess.run(  # noqa: S603
        [*common, "--dump-dom", page.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
        text=True,
    ).stdout
    return shot, dom


def assert_painted(shot: Path) -> None:
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG"), "a PNG"
    # A blank white page compresses to a few kilobytes; text, boxes and colours do not.
    assert len(data) > 30_000, f"{shot} looks empty ({len(data)} bytes)"


@pytest.mark.parametrize(
    ("lang", "heading", "objection"),
    [
        ("fi", "Rekisteriseloste", "Oikeus vastustaa suoramarkkinointia"),
        ("sv", "Registerbeskrivning", "Rätt att invända mot direktmarknadsföring"),
    ],
)
async def test_the_register_description_renders(
    client: httpx.AsyncClient, lang: str, heading: str, objection: str
) -> None:
    html = (
        await client.get(
            "/v1/register-description", params={"lang": lang}, headers={"Accept": "text/html"}
        )
    ).text
    shot, dom = render(html, f"register-description-{lang}")
    assert heading in dom and objection in dom
    assert_painted(shot)


@pytest.mark.parametrize(
    ("lang", "title"),
    [("fi", "Ilmoitukset sinulle"), ("sv", "Meddelanden till dig")],
)
async def test_the_persons_notices_render(
    client: httpx.AsyncClient, actors: Actors, lang: str, title: str
) -> None:
    from app.subject_notices import service as subject_notices

    user_id, token = await actors.user_with_token()
    await client.patch("/v1/users/me", json={"language": lang}, headers=bearer(token))
    await subject_notices.write_notice(actors.session, user_id, "restriction_lifted")
    due = (datetime.now(UTC) + timedelta(days=90)).date().isoformat()
    await subject_notices.write_notice(
        actors.session, user_id, "request_extended", months=2, due_on=due, reason="Laaja pyyntö."
    )
    html = (
        await client.get("/v1/users/me/notices", headers={**bearer(token), "Accept": "text/html"})
    ).text
    shot, dom = render(html, f"notices-{lang}")
    assert title in dom and due in dom
    assert_painted(shot)


@pytest.mark.parametrize(
    ("lang", "title", "nothing_disclosed"),
    [
        ("fi", "Tietosi Huutokaupat.com-käyttäjärekisterissä", "Ei luovutuksia."),
        ("sv", "Dina uppgifter i användarregistret för Huutokaupat.com", "Inga utlämnanden."),
    ],
)
async def test_the_export_summary_renders(
    client: httpx.AsyncClient, actors: Actors, lang: str, title: str, nothing_disclosed: str
) -> None:
    import io
    import zipfile

    from tests.test_requests import _full_user

    staff = bearer(await actors.client_token("staff"))
    _, token = await _full_user(client, actors, staff)
    await client.patch("/v1/users/me", json={"language": lang}, headers=bearer(token))
    archive = (await client.get("/v1/users/me/export.zip", headers=bearer(token))).content
    html = zipfile.ZipFile(io.BytesIO(archive)).read("summary.html").decode()
    shot, dom = render(html, f"export-summary-{lang}")
    assert title in dom and "Erkki Esimerkki" in dom and nothing_disclosed in dom
    assert_painted(shot)


@pytest.mark.parametrize(
    ("lang", "title"),
    [
        ("fi", "Seloste käsittelytoimista"),
        ("sv", "Register över behandling"),
    ],
)
async def test_the_record_of_processing_renders(
    client: httpx.AsyncClient, actors: Actors, lang: str, title: str
) -> None:
    dpo = bearer(await actors.client_token("dpo"))
    html = (
        await client.get(
            "/v1/records-of-processing",
            params={"lang": lang},
            headers={**dpo, "Accept": "text/html"},
        )
    ).text
    shot, dom = render(html, f"records-of-processing-{lang}")
    assert title in dom and "Kirjanpitolaki 2:10" in dom
    assert_painted(shot)
