"""What the web page adds: the predict form's round trip through webapp beside mlapp's own POST /predict.

The form is used as a browser uses it: GET /predict_page once for the session cookie and its CSRF token, then
POST /predict with the house fields form-encoded, answered by the result page. Behind it webapp calls mlapp
and publishes the `prediction.made` event to the (emulated) Pub/Sub before rendering, as in production. Both
targets get the same distinct records, alternating A/B, at low concurrency where the latency is the point.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlencode

import requests

from local_platform.processes import free_port
from platform_bench import loadtest, servers, synthetic, wrk
from platform_bench.context import BenchContext
from platform_bench.report import Row
from platform_bench.serving import mlapp_body
from platform_bench.training import ensure_champion

log = logging.getLogger("bench")

SECTION = "webapp"
RECORDS = 5_000
SEED = 17
CONCURRENCIES = (1, 4)
TARGET_CONCURRENCY = 1
TARGET_ADDED_P50_MS = 5.0
WEBAPP, MLAPP = "webapp form", "mlapp /predict"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_body(record: dict[str, Any], csrf_token: str) -> str:
    """The predict form as a browser posts it."""
    return urlencode({**{name: str(value) for name, value in record.items()}, "csrf_token": csrf_token})


def browser_session(webapp_url: str) -> tuple[str, str]:
    """(Cookie header, CSRF token) of a fresh session, from the predict page."""
    session = requests.Session()
    page = session.get(f"{webapp_url}/predict_page", timeout=30)
    page.raise_for_status()
    found = CSRF_FIELD.search(page.text)
    if found is None or not session.cookies:
        raise RuntimeError(f"{webapp_url}/predict_page gave no CSRF token or session cookie")
    cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    return f"Cookie: {cookie}", found.group(1)


def _check_form(url: str, body: str, cookie: str) -> None:
    """One form post must reach the result page (a refused CSRF token or a missing model would not)."""
    name, value = cookie.split(": ", 1)
    answer = requests.post(url, data=body, headers={"Content-Type": wrk.FORM_TYPE, name: value}, timeout=30)
    if answer.status_code != 200 or 'data-testid="price"' not in answer.text:
        raise RuntimeError(f"the predict form answered {answer.status_code} without a price: {answer.text[:500]}")


def run(ctx: BenchContext) -> list[Row]:
    ensure_champion(ctx)
    records = synthetic.records(RECORDS, SEED)
    folder = ctx.work_dir / SECTION
    json_bodies = wrk.write_bodies(folder / "predict.jsonl", map(mlapp_body, records))
    mlapp = servers.mlapp(ctx)
    web = servers.webapp(ctx, free_port(), mlapp.base_url)  # taken now: a port picked at start may be taken since
    with servers.running(web):
        cookie, token = browser_session(web.base_url)
        form_bodies = wrk.write_bodies(folder / "form.txt", (form_body(r, token) for r in records))
        _check_form(web.url("/predict"), form_body(records[0], token), cookie)
        targets = [
            loadtest.Target(WEBAPP, web.url("/predict"), form_bodies, wrk.FORM_TYPE, (cookie,)),
            loadtest.Target(MLAPP, mlapp.url("/predict"), json_bodies),
        ]
        results = loadtest.measure(ctx, targets, CONCURRENCIES)
    rows: list[Row] = []
    for c in CONCURRENCIES:
        page, direct = results[(WEBAPP, c)], results[(MLAPP, c)]
        rows += [
            Row(SECTION, f"{WEBAPP} c={c}", page.summary(), page.values()),
            Row(SECTION, f"{MLAPP} c={c}", direct.summary(), direct.values()),
        ]
        added = page.p50_ms - direct.p50_ms
        target = f"<= {TARGET_ADDED_P50_MS:g} ms, 0 errors" if c == TARGET_CONCURRENCY else ""
        met = added <= TARGET_ADDED_P50_MS and page.errors == 0 if target else None
        summary = f"+{added:.1f} ms p50 ({page.p50_ms:.1f} vs {direct.p50_ms:.1f} ms)"
        values = {"added_p50_ms": added, "webapp_p50_ms": page.p50_ms, "mlapp_p50_ms": direct.p50_ms}
        rows.append(Row(SECTION, f"webapp adds, c={c}", summary, values, target, met))
    return rows
