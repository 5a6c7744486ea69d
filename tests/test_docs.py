"""The API explorer works offline: Swagger UI from the service's own assets, driven in headless
Chromium (Debian's) with every request off this machine refused."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.auth import service as auth_service
from tests.live import LiveService

pytestmark = pytest.mark.slow


@pytest.fixture
async def live(fresh_database) -> AsyncIterator[LiveService]:  # type: ignore[no-untyped-def]
    """A server on a database of its own: what it commits touches no other test."""
    service = LiveService(await fresh_database()).start()
    yield service
    service.stop()


async def _client(url: str, role: str) -> tuple[str, str]:
    engine = create_async_engine(url)
    async with AsyncSession(engine) as session, session.begin():
        made = await auth_service.create_client(session, name="docs", role=role, scopes=None)
    await engine.dispose()
    return made


async def test_swagger_ui_authorizes_and_tries_a_read_offline(live: LiveService) -> None:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed (make test installs it)"
    client_id, secret = await _client(live.env["REGISTRY_DATABASE_URL"], "dpo")
    refused: list[str] = []

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        page = await browser.new_page()

        async def only_loopback(route, request) -> None:  # type: ignore[no-untyped-def]
            if urlsplit(request.url).hostname in ("127.0.0.1", "localhost"):
                await route.continue_()
            else:
                refused.append(request.url)
                await route.abort()

        await page.route("**/*", only_loopback)
        await page.goto(live.url + "/docs")
        await page.wait_for_selector(".swagger-ui .information-container", timeout=30_000)

        await page.click("button.authorize")
        await page.fill("#client_id_clientCredentials", client_id)
        await page.fill("#client_secret_clientCredentials", secret)
        flow = page.locator("h4", has_text="clientCredentials").locator("xpath=..")
        async with page.expect_response(lambda r: r.url.endswith("/v1/auth/token")) as issued:
            await flow.locator("button.authorize").click()
        assert (await issued.value).status == 200
        await flow.locator("h6", has_text="Authorized").wait_for(timeout=15_000)
        await page.click(".dialog-ux .close-modal")

        operation = page.locator("#operations-permissions_and_prohibitions-listPurposes")
        if not await operation.count():
            operation = page.locator("[id$='-listPurposes']").first
        await operation.locator(".opblock-summary").click()
        await operation.locator("button.try-out__btn").click()
        await operation.locator("button.execute").click()
        status = operation.locator(".live-responses-table tr.response .response-col_status").first
        await status.wait_for(timeout=15_000)
        assert (await status.inner_text()).strip() == "200"
        body = await operation.locator(".live-responses-table .highlight-code").first.inner_text()
        assert "direct_marketing" in body
        await browser.close()
    assert refused == [], f"the page asked for {refused}"


def test_redoc_is_served_from_the_service(live: LiveService) -> None:
    import httpx

    page = httpx.get(live.url + "/redoc", timeout=10).text
    assert "/docs-assets/redoc.standalone.js" in page and "https://" not in page.split("<body>")[0]
    assert httpx.get(live.url + "/docs-assets/redoc.standalone.js", timeout=10).status_code == 200
