"""The status page at `/`, rendered by headless Chromium (Debian's `chromium`)
against a real node while DNS queries flow: the DOM after the page's script
ran shows the label, addresses, peers, the registered devices with their last
update and a live query rate; the screenshot is a real rendering (checked with
PIL, not just "a file exists"). Also the page's files, their content types and
Content-Security-Policy, the first page of many devices with "N more", and a
gateway-mode node's page.

About the rate: `--virtual-time-budget` lets the page's timers run in virtual
time, which jumps ahead while nothing is pending, so the 2 s between two polls
take only a few real milliseconds (the fetches). The queries counted between
two polls are the real ones sent in those milliseconds, divided by 2 virtual
seconds: the rate shown is far below the real one, and now and then one gap
catches no query at all (seen: 1 in 10 gaps on a loaded 2-core machine). So
the test lets the page poll 5 times (4 rates), checks the current rate is a
number and the peak over those rates (id="qps-peak") is > 0."""
from __future__ import annotations

import html
import re
import shutil
import subprocess
import tempfile
import threading
import time

import dns.rdatatype
import pytest

from registrar_fixtures import http_request, registrar_factory  # noqa: F401

WIDTH, HEIGHT = 1200, 900


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed (CI installs Debian's chromium): the status "
                    "page cannot be tested", pytrace=False)
    return path


def run_chromium(url, *args, budget_ms=5000):
    # A profile of its own: runs side by side never meet in ~/.config/chromium.
    with tempfile.TemporaryDirectory(prefix="pweb-chromium-") as profile:
        cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}",
               f"--window-size={WIDTH},{HEIGHT}", f"--virtual-time-budget={budget_ms}", *args,
               url]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"chromium failed: {p.stderr[-2000:]}"
    return p.stdout


def element_text(dom, element_id):
    m = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', dom, re.S)
    assert m, f"no element #{element_id} in the DOM"
    return html.unescape(re.sub(r"<[^>]+>", " ", m.group(2))).strip()


class Load:
    """DNS queries at the node in the background (bounded) so the rate is real."""

    def __init__(self, node, seconds=60.0):
        self.node, self.seconds = node, seconds
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        end = time.monotonic() + self.seconds
        while not self.stop.is_set() and time.monotonic() < end:
            self.node.ask("laptop.alice.uw.dht.", dns.rdatatype.A)
            self.sent += 1
            time.sleep(0.005)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def agent(registrar_factory):  # noqa: F811
    r = registrar_factory.start("status-page")
    assert r.nic_ok("alice", {"hostname": "laptop.alice.uw", "myip": "192.0.2.10"}) == [
        "good 192.0.2.10"]
    assert r.nic_ok("alice", {"hostname": "phone.alice.uw", "myip": "192.0.2.11,2001:db8::11"}) \
        == ["good 192.0.2.11,2001:db8::11"]
    res = r.request("PUT", "/api/v1/devices/laptop.alice.uw/rrsets/_http._tcp/SRV",
                    auth=r.creds("alice"), body='{"ttl": 60, "records": ["0 0 80 x.example.org."]}',
                    headers={"Content-Type": "application/json"})
    assert res.status == 200, res
    yield r
    r.stop()


def test_page_shows_the_agent_devices_and_a_live_rate(agent):
    url = f"http://127.0.0.1:{agent.http_port}/"
    with Load(agent.node) as load:
        time.sleep(0.3)
        dom = run_chromium(url, "--dump-dom", budget_ms=9000)
    assert load.sent > 10, "the background load did not run"
    error = re.search(r'<p id="error"[^>]*>', dom).group(0)
    assert "hidden" in error, f"the page shows an error: {element_text(dom, 'error')}"
    assert element_text(dom, "label") == "uw"
    assert element_text(dom, "mode") == "agent"
    assert "127.0.0.1" in element_text(dom, "addresses")
    assert re.fullmatch(r"\d+", element_text(dom, "peers")), element_text(dom, "peers")
    assert element_text(dom, "device-count") == "2"
    devices = element_text(dom, "devices")
    for needle in ("laptop.alice.uw", "192.0.2.10", "phone.alice.uw", "2001:db8::11", "ago",
                   "_http._tcp SRV"):
        assert needle in devices, f"{needle!r} not in the devices table: {devices!r}"
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", devices), devices
    qps = element_text(dom, "qps").replace(",", "")
    assert re.fullmatch(r"\d+(\.\d)?", qps), qps
    peak = element_text(dom, "qps-peak").replace(",", "")
    assert re.fullmatch(r"\d+(\.\d)?", peak), peak
    assert float(peak) > 0, "queries flowed while the page polled: the peak rate must be > 0"
    assert float(peak) >= float(qps), (peak, qps)
    assert re.fullmatch(r"\d+s", element_text(dom, "qps-window")), element_text(dom, "qps-window")
    total = int(element_text(dom, "queries-total").replace(",", ""))
    assert total >= 1


def test_screenshot_is_a_real_rendering(agent, tmp_path):
    from PIL import Image

    shot = tmp_path / "status.png"
    with Load(agent.node):
        # A longer (virtual) budget: several polls, so the sparkline has a shape.
        run_chromium(f"http://127.0.0.1:{agent.http_port}/", f"--screenshot={shot}",
                     budget_ms=12000)
    print(f"status page screenshot: {shot}")
    img = Image.open(shot).convert("RGB")
    assert img.size == (WIDTH, HEIGHT), img.size
    colors = img.getcolors(maxcolors=1 << 20)
    assert colors and len(colors) > 50, "a blank or flat image is not a rendered page"
    count = {c: n for n, c in colors}
    total = WIDTH * HEIGHT
    background = count.get((0xF4, 0xF6, 0xF8), 0)
    white = count.get((0xFF, 0xFF, 0xFF), 0)
    assert background > total * 0.2, "the page background is missing"
    assert white > total * 0.1, "the white cards are missing"
    # The heading: dark text pixels in the top band, and the accent-coloured label.
    top = img.crop((0, 0, WIDTH, 70))
    dark = sum(1 for p in top.getdata() if sum(p) < 200)
    assert dark > 300, f"no heading text rendered ({dark} dark pixels)"
    blue = sum(1 for p in top.getdata() if p[2] > 180 and p[0] < 90)
    assert blue > 30, "the agent label (accent colour) is not rendered in the heading"


def test_files_content_types_and_csp(agent):
    for path, ctype in (("/", "text/html"), ("/status.js", "text/javascript"),
                        ("/status.css", "text/css")):
        res = http_request(agent.http_port, "GET", path)
        assert res.status == 200, res
        assert res.content_type.startswith(ctype), (path, res.content_type)
        csp = res.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp, (path, csp)
        # 'self' is the only source allowed anywhere: no hosts, schemes, inline or eval.
        sources = {tok for part in csp.split(";") for tok in part.split()[1:]}
        assert sources <= {"'self'", "'none'"}, (path, csp)
        assert res.headers.get("cache-control") == "no-cache", (path, res.headers)
        assert res.headers.get("x-content-type-options") == "nosniff", (path, res.headers)
    page = http_request(agent.http_port, "GET", "/").text
    assert "http://" not in page and "https://" not in page, "the page loads nothing from outside"
    res = http_request(agent.http_port, "GET", "/no-such-page")
    assert res.status == 404 and res.json()["error"], res


def test_many_devices_first_page_and_how_many_more(node_factory):
    many = 63
    store = "".join(f"d{i:02d}.alice.uw 198.51.100.{i + 1} -\n" for i in range(many))
    node = node_factory.start("status-many", devices=store, extra_args=["--label", "uw"])
    try:
        dom = run_chromium(f"http://127.0.0.1:{node.http_port}/", "--dump-dom")
    finally:
        node.stop()
    assert "hidden" in re.search(r'<p id="error"[^>]*>', dom).group(0), element_text(dom, "error")
    assert element_text(dom, "device-count") == str(many)
    rows = re.findall(r"<tr>\s*<td>(d\d\d\.alice\.uw)</td>", dom)
    assert len(rows) == 50 and len(set(rows)) == 50, rows
    more = element_text(dom, "devices-more")
    assert f"{many - 50} more" in more, more


def test_gateway_page_renders_without_errors(node_factory):
    gw = node_factory.start("status-gw", devices=None, extra_args=["--home-agent", "127.0.0.1:9"])
    try:
        dom = run_chromium(f"http://127.0.0.1:{gw.http_port}/", "--dump-dom")
    finally:
        gw.stop()
    assert "hidden" in re.search(r'<p id="error"[^>]*>', dom).group(0), element_text(dom, "error")
    assert element_text(dom, "mode") == "gateway"
    assert "gateway" in element_text(dom, "devices")
    assert "gateway" in element_text(dom, "neighbors")
