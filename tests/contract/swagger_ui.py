"""Swagger UI in headless Chromium, reached under a host name that is not localhost: open /docs, Authorize with
a bearer token, Try it out and Execute `GET /api/v1/profiles/me`, see 200. Every network request the page makes
is recorded (Chrome DevTools performance log); any that leaves the server fails the test, as would the
validator badge Swagger UI asks an outside service for by default.

Usage: swagger_ui.py BASE_PORT TOKEN   (the service listens on 127.0.0.1:BASE_PORT; the user has a profile)
"""

import json
import sys
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

HOST = "docs.shop.test"


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        # The one name the page may reach is the server's; any other lookup fails (and is still recorded).
        f"--host-resolver-rules=MAP {HOST} 127.0.0.1, MAP * ~NOTFOUND",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def requested_urls(driver: webdriver.Chrome) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def click(wait: WebDriverWait, selector: str) -> None:
    wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, selector))).click()


def run(port: int, token: str) -> None:
    origin = f"http://{HOST}:{port}"
    driver = browser()
    wait = WebDriverWait(driver, 30)
    urls: list[str] = []
    try:
        driver.get(f"{origin}/docs/")
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, ".swagger-ui .info .title")))
        click(wait, ".scheme-container button.authorize")
        field = wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".auth-container input")))
        field.send_keys(token)
        click(wait, ".auth-btn-wrapper button.authorize")
        click(wait, ".auth-btn-wrapper button.btn-done")
        operation = "#operations-profiles-get_profile"
        click(wait, f"{operation} .opblock-summary")
        click(wait, f"{operation} .try-out__btn")
        click(wait, f"{operation} .execute")
        status = wait.until(
            ready.visibility_of_element_located(
                (By.CSS_SELECTOR, f"{operation} .live-responses-table .response .response-col_status")
            )
        )
        wait.until(lambda _: status.text.strip() != "")
        answered = status.text.strip()
        # Read after the whole story: a badge or a font is requested while the page renders, long before.
        urls = requested_urls(driver)
    finally:
        driver.quit()
    outside = [u for u in urls if urlsplit(u).scheme in ("http", "https", "ws", "wss") and urlsplit(u).netloc != f"{HOST}:{port}"]
    print(f"swagger-ui: {len(urls)} requests, Execute answered {answered}, {len(outside)} left the server")
    for url in urls:
        print(f"  {url}")
    failures = []
    if answered != "200":
        failures.append(f"Execute answered {answered}, not 200")
    if outside:
        failures.append(f"requests left the server: {outside}")
    if not any(u.endswith("/api/v1/profiles/me") for u in urls):
        failures.append("the page never called the API")
    if failures:
        sys.exit("swagger-ui: FAILED: " + "; ".join(failures))


if __name__ == "__main__":
    run(int(sys.argv[1]), sys.argv[2])
