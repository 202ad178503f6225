"""The ward screen in headless Chromium: an alert appears, acknowledge is clicked, Redis has it."""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest
import redis.asyncio as aioredis

from stream.sinks.redis_store import Keys
from stream.topics import Topics
from tests.conftest import ARTIFACTS, REQUIRE_SERVICES, SCREEN_TOKEN, Isolated, Proc
from tests.helpers import BASE_TS, DETERIORATED, STABLE, encode, reading
from tests.integration.kafka_io import publish

pytestmark = pytest.mark.integration
MIN = 60_000


def _driver():  # type: ignore[no-untyped-def]
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not chromedriver:
        if REQUIRE_SERVICES:
            pytest.fail("Debian's chromium and chromium-driver are required for the browser test")
        pytest.skip("chromium / chromedriver not installed (`apt-get install -y chromium chromium-driver`)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,900"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=chromedriver), options=opts)


def test_screen_shows_an_alert_and_acknowledges_it(isolated: Isolated, worker: Proc, feed: Proc) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    s = isolated.settings
    topics = Topics.from_settings(s.kafka)
    ward = f"scr-{isolated.tag}"
    driver = _driver()
    try:
        driver.get(f"http://127.0.0.1:{s.websocket.port}/screen?ward={ward}&token={SCREEN_TOKEN}&user=nurse.ada")
        WebDriverWait(driver, 20).until(ec.text_to_be_present_in_element((By.ID, "meta"), "patients"))
        asyncio.run(publish(s, topics.raw, [
            (b"PW1", encode(reading("PW1", ward, BASE_TS, STABLE))),
            (b"PW2", encode(reading("PW2", ward, BASE_TS, DETERIORATED))),
            (b"PW2", encode(reading("PW2", ward, BASE_TS + MIN, DETERIORATED))),
        ]))
        button = WebDriverWait(driver, 45).until(ec.element_to_be_clickable((By.CSS_SELECTOR, ".alert.high button.ack")))
        assert "NEWS2 10" in driver.find_element(By.CSS_SELECTOR, ".alert.high .why").text
        beds = driver.find_elements(By.CSS_SELECTOR, ".bed")
        assert len(beds) == 2 and any("high" in b.get_attribute("class") for b in beds)  # type: ignore[operator]
        button.click()
        WebDriverWait(driver, 30).until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".alert.high .state"),
                                                                         "acknowledged by nurse.ada"))
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "ward-screen.png"))
        # the feed-lost banner is hidden while the feed is live
        assert not driver.find_element(By.ID, "banner").is_displayed()
    finally:
        driver.quit()

    async def audit() -> list[dict[str, str]]:
        r = aioredis.Redis.from_url(s.redis.url, decode_responses=True)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                got = [f for _, f in await r.xrange(Keys(s.redis.key_prefix).commands_audit)]
                if got:
                    return got
                await asyncio.sleep(0.2)
            return []
        finally:
            await r.aclose()

    entries = asyncio.run(audit())
    assert [(e["kind"], e["user_id"], e["status"], e["patient_id"]) for e in entries] == [
        ("acknowledge", "nurse.ada", "applied", "PW2")]
