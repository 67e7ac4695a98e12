"""The web console in a real headless Chromium, driven by Selenium.

Run by tests/cluster/console.rs against a 3-node cluster started with an ACL
file; it can also be run by hand against any cluster (see docs/console.md).
The cluster is described by the environment:

  ORDO_CONSOLE_NODES     JSON list of {"id", "url", "pid"} of every node
  ORDO_CONSOLE_NODE      the id of the node whose console is opened (a
                         follower: it outlives the leader's kill)
  ORDO_ADMIN_TOKEN       a token with every right
  ORDO_READER_TOKEN      a token that may read everything and append nothing
  ORDO_CONSOLE_CA        the cluster's CA certificate, for an https:// cluster
                         (the script's own API calls verify the nodes with
                         it; Chromium, which has its own trust store, is
                         told to accept the nodes' certificates)
  ORDO_CONSOLE_SCREENSHOTS  where each page's PNG goes (default: a new
                         temporary dir, printed)

What it checks, in order: without a token the console asks for one; every
page shows the figures the API gives (each compared with the API's own
answer, fetched here with the token), and the append-rate and lag charts
appear once sampled; the live tail shows a record appended after the page
opened within 2 s, and pauses; the append form appends (read back over
HTTP); the read-only principal's append is "not allowed"; with 1,000
topics and 100 groups the Topics and Groups pages page and filter, and
their load times are printed (not asserted); after `kill -9` of the leader
the Cluster page names the new leader within 5 s, and the Events page the
election. Throughout: no console error, no failed request, no request to
another origin (Chromium's browser and performance logs). Every wait is
bounded; the first failure stops the run with a screenshot (failure.png)
and exit status 1.
"""

import json
import os
import re
import shutil
import signal
import ssl
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

# Bounds of every wait, in seconds.
PAGE_READY_S = 15
FIGURES_MATCH_S = 10
TAIL_SHOWS_S = 2.0
NEW_LEADER_SHOWN_S = 5.0
SPARKLINE_DRAWN_S = 30
HTTP_TIMEOUT_S = 10
POLL_S = 0.05

# The scale the issue asks the console to stay fast at.
SCALE_TOPICS = 1000
SCALE_GROUPS = 100
# Rows a page of the console shows (ROWS_PER_PAGE and RECORDS_PER_PAGE in
# app.js).
ROWS_PER_PAGE = 50
RECORDS_PER_PAGE = 20
LOAD_SAMPLES = 3
# What a page shows where a value it meant to show was missing.
MISSING_VALUE_WORDS = ["undefined", "NaN", "[object Object]"]
# The browser window, in pixels.
WINDOW = (1360, 900)


def log(message):
    print(message, file=sys.stderr, flush=True)


class Failure(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def wait_until(what, timeout_s, probe):
    """Calls probe() until it returns something truthy (returned), for at
    most timeout_s; then fails naming `what` and the last thing probe said."""
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        try:
            result = probe()
            if result:
                return result
        except (Failure, StaleElementReferenceException) as e:
            # A page that redraws itself replaces the element looked at.
            last = str(e).splitlines()[0]
        if time.monotonic() >= deadline:
            raise Failure(f"{what}: not within {timeout_s} s" + (f" ({last})" if last else ""))
        time.sleep(POLL_S)


# ---------------------------------------------------------------- HTTP


class Cluster:
    def __init__(self):
        self.nodes = {node["id"]: node for node in json.loads(os.environ["ORDO_CONSOLE_NODES"])}
        self.console_node = int(os.environ["ORDO_CONSOLE_NODE"])
        self.admin = os.environ["ORDO_ADMIN_TOKEN"]
        self.reader = os.environ["ORDO_READER_TOKEN"]
        ca = os.environ.get("ORDO_CONSOLE_CA")
        self.tls = ssl.create_default_context(cafile=ca) if ca else None

    @property
    def url(self):
        return self.nodes[self.console_node]["url"]

    def request(self, method, path, body=None, token="admin", node=None):
        """(status, JSON body) of a request to `node` (the console's node by
        default) with the admin token, another token, or none."""
        token = self.admin if token == "admin" else token
        url = (self.nodes[node]["url"] if node else self.url) + path
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S, context=self.tls) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as e:
            text = e.read()
            return e.code, json.loads(text) if text else None

    def ok(self, method, path, body=None):
        status, answer = self.request(method, path, body)
        check(status == 200, f"{method} {path}: {status} {answer}")
        return answer

    def get(self, path):
        return self.ok("GET", path)

    def append(self, topic, records):
        return self.ok("POST", f"/v1/topics/{topic}/records", {"records": records})["offsets"]

    def leader(self):
        return self.get("/v1/cluster")["leader"]


def in_parallel(calls, workers=16):
    """Runs every call (a no-argument function) on `workers` threads; fails
    on the first that fails."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result(timeout=60)


# Markup in a key, a value and a header: the console must show it as text.
HOSTILE_RECORD = {"key": "<script>alert('key')</script>", "value": {"html": "<img src=x onerror=alert(1)>"},
                  "headers": {"note": "<b onmouseover=alert(2)>bold</b>"}}


def seed(cluster):
    """Topics with records (JSON, keys, headers, one value of raw bytes), a
    compacted and a retained topic, a group behind in two topics, and a
    queue with pending and in-flight jobs."""
    records = [
        {"key": f"customer-{i % 7}", "value": {"order": i, "items": ["tea", "cake"][: 1 + i % 2]},
         "headers": {"source": "console-test"}}
        for i in range(29)
    ]
    records.append(HOSTILE_RECORD)
    records.append({"key": "raw", "value_b64": "/wABAg=="})
    cluster.append("orders", records)
    # A topic whose name is a property of every JavaScript object.
    cluster.append("__proto__", [{"value": "a topic like any other"}])
    cluster.ok("PUT", "/v1/topics/payments", {"cleanup": "compact"})
    cluster.append("payments", [{"key": f"p{i}", "value": i} for i in range(12)])
    cluster.ok("PUT", "/v1/topics/audit", {"cleanup": "delete", "retention_ms": 86_400_000})
    cluster.append("audit", [{"value": "login"}, {"value": "logout"}])
    cluster.ok("PUT", "/v1/consumers/billing/offsets/orders", {"offset": 10})
    cluster.ok("PUT", "/v1/consumers/billing/offsets/payments", {"offset": 12})
    cluster.ok("PUT", "/v1/queues/workers/jobs", {"lease_ms": 600_000})
    cluster.append("jobs", [{"value": {"job": i}} for i in range(6)])
    claimed = cluster.ok("POST", "/v1/queues/workers/jobs/claim", {"max": 2})["jobs"]
    check(len(claimed) == 2, f"claimed {claimed}")


def seed_at_scale(cluster):
    """SCALE_TOPICS topics, the first SCALE_GROUPS with records, and
    SCALE_GROUPS groups each behind in one of them; concurrently."""
    names = [f"load-{i:04}" for i in range(SCALE_TOPICS)]
    started = time.monotonic()
    in_parallel([lambda name=name: cluster.append(name, [{"value": n} for n in range(10)])
                 for name in names[:SCALE_GROUPS]])
    in_parallel([lambda name=name: cluster.ok("PUT", f"/v1/topics/{name}", {}) for name in names[SCALE_GROUPS:]])
    in_parallel([lambda i=i: cluster.ok("PUT", f"/v1/consumers/load-group-{i:03}/offsets/{names[i]}",
                                        {"offset": i % 10})
                 for i in range(SCALE_GROUPS)])
    log(f"seeded {SCALE_TOPICS} topics and {SCALE_GROUPS} groups in {time.monotonic() - started:.1f} s")


# ---------------------------------------------------------------- browser


ROWS_JS = """
return [...document.querySelectorAll(arguments[0])].map((row) => ({
  attrs: Object.fromEntries([...row.attributes].map((a) => [a.name, a.value])),
  fields: Object.fromEntries([...row.querySelectorAll('[data-field]')]
    .map((cell) => [cell.dataset.field, cell.dataset.value ?? null])),
}));
"""


class Browser:
    """Chromium under chromedriver, with its browser and performance logs
    read after each step: console errors, failed requests and requests to
    another origin fail the step, unless the step allows them."""

    def __init__(self, origin, shots):
        options = Options()
        options.binary_location = find_binary("CHROMIUM", ["chromium", "chromium-browser", "google-chrome"])
        for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size={},{}".format(*WINDOW), "--no-first-run", "--no-default-browser-check",
                         "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--disable-extensions"]:
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        # The nodes' certificates come from the test cluster's own CA, which
        # Chromium's trust store does not hold (only an https:// cluster
        # needs this).
        options.set_capability("acceptInsecureCerts", True)
        service = Service(executable_path=find_binary("CHROMEDRIVER", ["chromedriver"]))
        self.driver = webdriver.Chrome(options=options, service=service)
        self.driver.set_page_load_timeout(30)
        self.origin = origin
        self.shots = shots
        self.urls = {}
        self.requests = 0

    def quit(self):
        self.driver.quit()

    def open(self, fragment):
        """Loads the console afresh at `fragment` (a full page load: from
        the console itself, a new fragment alone would not load it again)."""
        self.driver.get("about:blank")
        self.driver.get(f"{self.origin}/ui/#{fragment}")

    def give_token(self, token, page):
        """Enters `token` in the token form on screen; waits for `page`."""
        self.fill("input[name=token]", token)
        self.find("form button[type=submit]").click()
        self.ready(page)

    def sign_in(self, token, fragment, page):
        """Forgets the tab's token, loads the console at `fragment`, gives
        the form it asks with `token`, and waits for `page`."""
        self.driver.execute_script("sessionStorage.clear()")
        self.open(fragment)
        self.ready("token")
        self.give_token(token, page)

    def visit(self, fragment, page):
        """Moves to `fragment` within the loaded console (no page load) and
        waits for `page` to be ready there."""
        self.driver.execute_script("location.hash = arguments[0]", fragment)
        self.ready(page)

    def ready(self, page):
        """Waits until <main> shows `page` with its data on screen."""
        def shown():
            state = self.driver.execute_script(
                "const main = document.getElementById('main'); return [main.dataset.page, main.dataset.ready]")
            return state == [page, "true"]
        wait_until(f"the {page} page ready", PAGE_READY_S, shown)
        words = self.driver.execute_script("return document.getElementById('main').innerText")
        for slip in MISSING_VALUE_WORDS:
            check(slip not in words, f"the {page} page shows {slip!r}")

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def table(self, css):
        """The rows `css` matches, read at one instant (the pages redraw
        themselves): each row's attributes and its cells as {data-field:
        data-value}."""
        return self.driver.execute_script(ROWS_JS, css)

    def rows(self, css, key):
        """{the row's `key` attribute: its cells} of the rows `css` matches."""
        return {row["attrs"][key]: row["fields"] for row in self.table(css)}

    def column(self, css, key):
        """The `key` attribute of each row `css` matches, in order."""
        return [row["attrs"][key] for row in self.table(css)]

    def fill(self, css, text):
        element = self.find(css)
        element.clear()
        element.send_keys(text)

    def screenshot(self, name, height=None):
        """Saves the window as `name`.png, `height` pixels tall if given."""
        path = os.path.join(self.shots, f"{name}.png")
        if height:
            self.driver.set_window_size(WINDOW[0], height)
        self.driver.save_screenshot(path)
        if height:
            self.driver.set_window_size(*WINDOW)
        return path

    def mark(self, name):
        """The time of performance mark `name` in ms since navigation start,
        the latest if there are several."""
        times = self.driver.execute_script(
            "return performance.getEntriesByName(arguments[0]).map(e => e.startTime)", name)
        check(times, f"no performance mark {name}")
        return times[-1]

    def check_logs(self, step, allowed=()):
        """Fails unless, since the last check, the page logged no error and
        every request went to the console's origin and succeeded; `allowed`
        holds (status, method, path regex) of refusals the step expects."""
        def expected(status, method, url):
            path = urllib.parse.urlsplit(url).path
            # The browser log names no method ("*").
            return any(status == s and (m == "*" or method in ("*", m)) and re.fullmatch(p, path)
                       for s, m, p in allowed)

        problems = []
        for entry in self.driver.get_log("browser"):
            if entry["level"] != "SEVERE":
                continue
            refused = re.match(r"(\S+) - Failed to load resource: the server responded with a status of (\d+)",
                               entry["message"])
            if refused and expected(int(refused.group(2)), "*", refused.group(1)):
                continue
            problems.append(f"console: {entry['message']}")
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            method, params = message["method"], message.get("params", {})
            if method == "Network.requestWillBeSent":
                request = params["request"]
                self.urls[params["requestId"]] = (request["method"], request["url"])
                self.requests += 1
                origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(request["url"]))
                if origin != self.origin and not request["url"].startswith("data:"):
                    problems.append(f"a request to another origin: {request['url']}")
            elif method == "Network.responseReceived":
                status = params["response"]["status"]
                sent = self.urls.get(params["requestId"], ("?", params["response"]["url"]))
                if status >= 400 and not expected(status, *sent):
                    problems.append(f"{sent[0]} {sent[1]}: {status}")
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                sent = self.urls.get(params["requestId"], ("?", "?"))
                problems.append(f"{sent[0]} {sent[1]} failed: {params.get('errorText')}")
        check(not problems, f"{step}: " + "; ".join(problems))


def find_binary(variable, names):
    found = os.environ.get(variable) or next(filter(None, map(shutil.which, names)), None)
    check(found, f"none of {names} on PATH: apt-get install -y chromium chromium-driver (or set {variable})")
    return found


# ---------------------------------------------------------------- steps

# Refusals a node older than the console's newest routes gives: the console
# falls back (the member views) or says so (the event log).
OLDER_NODE = ((404, "GET", r"/v1/cluster/nodes"), (405, "GET", r"/v1/cluster/nodes"),
              (404, "GET", r"/v1/events"), (405, "GET", r"/v1/events"))


def asks_for_a_token(browser, cluster):
    browser.open("/cluster")
    browser.ready("token")
    reason = browser.find("[data-field=token-reason]").text
    check("needs a token" in reason, f"the token form says {reason!r}")
    browser.screenshot("token")
    browser.check_logs("without a token", allowed=[(401, "*", r"/v1/.*")])
    browser.give_token(cluster.admin, "cluster")


def cluster_page_shows_each_node(browser, cluster):
    browser.visit("/cluster", "cluster")
    status, views = cluster.request("GET", "/v1/cluster/nodes")
    own_views = status == 200
    log("the Cluster page " + ("shows each node's own view (/v1/cluster/nodes)" if own_views
                               else f"falls back to one node's view (/v1/cluster/nodes: {status})"))

    def matches():
        answer = cluster.get("/v1/cluster")
        rows = browser.rows("tr[data-node-id]", "data-node-id")
        check(sorted(map(int, rows)) == sorted(m["id"] for m in answer["members"]), f"rows {list(rows)}")
        leaders = browser.column("tr[data-leader=true]", "data-node-id")
        check(leaders == [str(answer["leader"])], f"marked {leaders}, the API says {answer['leader']}")
        expected = {str(n["id"]): n for n in cluster.get("/v1/cluster/nodes")["nodes"]} if own_views else {
            str(answer["node_id"]): answer}
        for member in answer["members"]:
            check(rows[str(member["id"])]["addr"] == member["addr"], f"node {member['id']}'s address")
        for node_id, node in expected.items():
            for field in ["role", "term", "commit_index", "last_applied_index", "health"]:
                shown = rows[node_id][field]
                check(shown == text(node[field]), f"node {node_id} {field}: {shown!r}, the API says {node[field]!r}")
        return True

    wait_until("the Cluster page shows the API's figures", FIGURES_MATCH_S, matches)
    browser.screenshot("cluster")
    browser.check_logs("the Cluster page", allowed=OLDER_NODE)


def text(value):
    """A JSON value as the console writes it into data-value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def topics_page_shows_each_topic(browser, cluster):
    browser.visit("/topics", "topics")

    def matches():
        topics = cluster.get("/v1/topics")["topics"]
        rows = browser.rows("tr[data-topic]", "data-topic")
        check(len(rows) == min(len(topics), ROWS_PER_PAGE), f"{len(rows)} rows for {len(topics)} topics")
        # The first page, in the API's order.
        for topic in topics[:ROWS_PER_PAGE]:
            shown = rows.get(topic["topic"])
            check(shown is not None, f"no row for {topic['topic']}")
            for field in ["start_offset", "end_offset", "records", "bytes"]:
                check(shown[field] == text(topic[field]), f"{topic['topic']} {field}: {shown[field]} vs {topic[field]}")
            for field in ["cleanup", "retention_ms", "retention_bytes"]:
                check(shown[field] == text(topic["config"].get(field)), f"{topic['topic']} {field}")
        return True

    wait_until("the Topics page shows the API's figures", FIGURES_MATCH_S, matches)
    browser.check_logs("the Topics page")


def topics_page_draws_append_rates(browser, cluster):
    """Appends to a topic while the Topics page samples it, until its row
    shows a rate above 0 with a sparkline."""
    browser.visit("/topics", "topics")
    appended = [0.0]

    def drawn():
        # An append every half second: a rate to sample.
        if time.monotonic() - appended[0] >= 0.5:
            cluster.append("clicks", [{"value": n} for n in range(20)])
            appended[0] = time.monotonic()
        rate = browser.rows("tr[data-topic=clicks]", "data-topic").get("clicks", {}).get("rate")
        return float(rate or 0) > 0 and browser.all("tr[data-topic=clicks] td[data-field=rate] svg polyline")

    wait_until("an append-rate sparkline for clicks", SPARKLINE_DRAWN_S, drawn)
    browser.screenshot("topics")
    browser.check_logs("the Topics page's rates")


def topic_page_shows_records(browser, cluster):
    browser.visit("/topics/orders", "topic")
    end = cluster.get("/v1/topics/orders")["end_offset"]
    page = cluster.get(f"/v1/topics/orders/records?from={end - RECORDS_PER_PAGE}&limit={RECORDS_PER_PAGE}")
    rows = browser.rows("section[data-section=records] tr[data-offset]", "data-offset")
    check(sorted(map(int, rows)) == [r["offset"] for r in page["records"]], f"record rows {sorted(rows)}")
    for record in page["records"]:
        shown = rows[str(record["offset"])]
        check(shown["key"] == text(record.get("key")), f"offset {record['offset']}'s key")
        check(shown["timestamp_ms"] == text(record["timestamp_ms"]), f"offset {record['offset']}'s time")
        check(json.loads(shown["headers"]) == record.get("headers", {}), f"offset {record['offset']}'s headers")
        if "value_b64" in record:
            check(shown["value"] == record["value_b64"], f"offset {record['offset']}'s bytes")
        else:
            check(json.loads(shown["value"]) == record["value"], f"offset {record['offset']}'s value")
    check(any("value_b64" in r for r in page["records"]), "the page holds the record of raw bytes")
    check(any(r.get("key") == HOSTILE_RECORD["key"] for r in page["records"]), "the page holds the hostile record")
    check(not browser.all("main img, main script, main b"), "markup from a record became elements")

    browser.find("[data-control=older]").click()
    oldest = max(0, end - 2 * RECORDS_PER_PAGE)
    wait_until("the older page", FIGURES_MATCH_S, lambda: first_offset(browser) == oldest)
    browser.find("[data-control=latest]").click()
    wait_until("the latest page again", FIGURES_MATCH_S, lambda: first_offset(browser) == end - RECORDS_PER_PAGE)
    # By time: the first record at or after a time, as the API finds it.
    at = cluster.get("/v1/topics/orders/records?from=3&limit=1")["records"][0]["timestamp_ms"] // 1000 * 1000
    expected = cluster.get(f"/v1/topics/orders/offsets?timestamp_ms={at}")["offset"]
    moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at / 1000))
    browser.driver.execute_script("arguments[0].value = arguments[1]", browser.find("[data-control=time]"), moment)
    browser.find("[data-control=time] + button").click()
    wait_until(f"the records from {moment} UTC (offset {expected})", FIGURES_MATCH_S,
               lambda: first_offset(browser) == expected)
    browser.find("[data-control=latest]").click()
    browser.check_logs("the Topic page")


def first_offset(browser):
    """The offset of the first record the Records section shows, if any."""
    offsets = browser.column("section[data-section=records] tr[data-offset]", "data-offset")
    return int(offsets[0]) if offsets else None


def live_tail_shows_new_records(browser, cluster):
    browser.visit("/topics/orders", "topic")
    wait_until("the tail following", FIGURES_MATCH_S,
               lambda: "following" in browser.find("[data-field=tail-state]").text)
    [offset] = cluster.append("orders", [{"key": "tailed", "value": {"after": "the page opened"}}])
    appended = time.monotonic()
    tail_row = f"section[data-section=tail] tr[data-offset='{offset}']"
    wait_until(f"offset {offset} in the live tail", TAIL_SHOWS_S, lambda: browser.all(tail_row))
    log(f"the live tail showed offset {offset} {1000 * (time.monotonic() - appended):.0f} ms after its append")
    check(browser.table(tail_row)[0]["fields"]["key"] == "tailed", "the tailed record's key")

    browser.find("[data-control=tail-toggle]").click()
    wait_until("the tail paused", FIGURES_MATCH_S, lambda: "paused" in browser.find("[data-field=tail-state]").text)
    [held] = cluster.append("orders", [{"value": "while paused"}])
    time.sleep(1)
    check(not browser.all(f"section[data-section=tail] tr[data-offset='{held}']"), "a paused tail showed a record")
    browser.find("[data-control=tail-toggle]").click()
    wait_until(f"offset {held} after resuming", TAIL_SHOWS_S,
               lambda: browser.all(f"section[data-section=tail] tr[data-offset='{held}']"))
    browser.check_logs("the live tail")


def append_form_appends(browser, cluster):
    browser.visit("/topics/orders", "topic")
    browser.fill("[data-control=key]", "from-the-form")
    browser.fill("[data-control=value]", '{"made": "in the console", "n": 7}')
    browser.fill("[data-control=headers]", "origin: console\ntrace: abc-123")
    browser.find("[data-control=append]").click()
    result = wait_until("the append's answer", FIGURES_MATCH_S,
                        lambda: browser.all("[data-field=append-result][data-status]"))[0]
    check(result.get_attribute("data-status") == "ok", f"the form said {result.text!r}")
    offset = int(result.get_attribute("data-value"))
    [record] = cluster.get(f"/v1/topics/orders/records?from={offset}&limit=1")["records"]
    check(record["offset"] == offset and record["key"] == "from-the-form", f"read back {record}")
    check(record["value"] == {"made": "in the console", "n": 7}, f"read back {record}")
    check(record["headers"] == {"origin": "console", "trace": "abc-123"}, f"read back {record}")
    wait_until("the appended record in the tail", TAIL_SHOWS_S,
               lambda: browser.all(f"section[data-section=tail] tr[data-offset='{offset}']"))
    browser.driver.execute_script("window.scrollTo(0, 0)")
    browser.screenshot("topic", height=1700)
    browser.check_logs("the append form")


def groups_page_shows_each_position(browser, cluster):
    browser.visit("/groups", "groups")

    def matches():
        group = cluster.get("/v1/consumers/billing")
        shown_topics = browser.rows("tr[data-group=billing]", "data-topic")
        for topic, position in group["topics"].items():
            shown = shown_topics.get(topic)
            check(shown, f"no row for billing in {topic}")
            for field in ["offset", "end_offset", "lag_records"]:
                check(shown[field] == text(position[field]), f"billing {topic} {field}: {shown[field]}")
        check(group["topics"]["orders"]["lag_records"] > 0, "billing lags in orders")
        return True

    wait_until("the Groups page shows the API's figures", FIGURES_MATCH_S, matches)
    appended = [0.0]

    def lag_drawn():
        # Records appended while the page samples: lag that changes.
        if time.monotonic() - appended[0] >= 1:
            cluster.append("orders", [{"value": "more work"}])
            appended[0] = time.monotonic()
        return browser.all("tr[data-group=billing][data-topic=orders] td[data-field=lag_history] svg polyline")

    wait_until("a lag sparkline for billing in orders", SPARKLINE_DRAWN_S, lag_drawn)
    browser.screenshot("groups")
    browser.check_logs("the Groups page")


def queues_page_shows_each_queue(browser, cluster):
    link = browser.find("[data-nav=queues]")
    check(link.is_displayed(), "the nav shows Queues once a queue exists")
    link.click()
    browser.ready("queues")

    def matches():
        [queue] = [q for q in cluster.get("/v1/queues")["queues"] if q["group"] == "workers"]
        shown = browser.rows("tr[data-queue]", "data-queue").get("workers/jobs")
        check(shown, "no row for workers/jobs")
        for field in ["pending", "in_flight", "acked", "dead_lettered", "floor_offset", "end_offset"]:
            check(shown[field] == text(queue[field]), f"workers/jobs {field}: {shown[field]} vs {queue[field]}")
        check(queue["pending"] > 0 and queue["in_flight"] > 0, f"pending and in flight: {queue}")
        check(int(shown["oldest_pending_age_ms"]) > 0, "the oldest pending job's age")
        return True

    wait_until("the Queues page shows the API's figures", FIGURES_MATCH_S, matches)
    browser.screenshot("queues")
    browser.check_logs("the Queues page")


def events_page_shows_recent_events(browser, cluster):
    browser.visit("/events", "events")
    status, answer = cluster.request("GET", "/v1/events?limit=200")
    if status == 200:
        def matches():
            newest = list(reversed(cluster.get("/v1/events?limit=200")["events"]))[:ROWS_PER_PAGE]
            shown = [(row["fields"]["node_id"], row["attrs"]["data-seq"], row["attrs"]["data-kind"])
                     for row in browser.table("tr[data-kind]")]
            expected = [(str(e["node_id"]), str(e["seq"]), e["kind"]) for e in newest]
            check(shown == expected, f"events shown {shown[:3]}…, the API's newest {expected[:3]}…")
            return True

        wait_until("the Events page shows the API's events", FIGURES_MATCH_S, matches)
    else:
        log(f"GET /v1/events: {status}: the page says the node keeps no event log")
        check("keeps no event log" in browser.find("main").text, "the Events page explains the missing log")
    browser.screenshot("events")
    browser.check_logs("the Events page", allowed=OLDER_NODE)


def read_only_principal_may_not_append(browser, cluster):
    browser.sign_in(cluster.reader, "/topics/orders", "topic")
    check(browser.all("section[data-section=records] tr[data-offset]"), "the reader sees the records")
    browser.fill("[data-control=value]", '"may I?"')
    browser.find("[data-control=append]").click()
    result = wait_until("the append's answer", FIGURES_MATCH_S,
                        lambda: browser.all("[data-field=append-result][data-status]"))[0]
    check(result.get_attribute("data-status") == "forbidden", f"the form said {result.text!r}")
    check(result.text.startswith("Not allowed"), f"the form said {result.text!r}")
    browser.find("[data-section=append]").location_once_scrolled_into_view
    browser.screenshot("read-only-append")
    browser.check_logs("the read-only principal", allowed=[(403, "POST", r"/v1/topics/orders/records"),
                                                            (401, "*", r"/v1/.*"),
                                                            (403, "GET", r"/v1/cluster/nodes")])
    browser.sign_in(cluster.admin, "/cluster", "cluster")
    browser.check_logs("back to the admin token", allowed=((401, "*", r"/v1/.*"),) + OLDER_NODE)


def list_at_scale(browser, page, key, total, needle, screenshot):
    """Loads the list `page` afresh LOAD_SAMPLES times and moves to it from
    another page as many times; checks that it shows one page of `total`
    rows (tr[`key`]) and that filtering by `needle` leaves the one row whose
    `key` is `needle`; returns the median times, in ms, from navigation
    start (or the move) to its data on screen."""
    cold, warm = [], []
    for _ in range(LOAD_SAMPLES):
        browser.open(f"/{page}")
        browser.ready(page)
        cold.append(browser.mark(f"ordo:ready:{page}"))
    for _ in range(LOAD_SAMPLES):
        browser.visit("/cluster", "cluster")
        browser.visit(f"/{page}", page)
        warm.append(browser.mark(f"ordo:ready:{page}") - browser.mark(f"ordo:open:{page}"))
    check(len(browser.all(f"tr[{key}]")) == ROWS_PER_PAGE, f"one page of {page} rows")
    shown_range = browser.find("[data-control=range]").text
    check(shown_range.endswith(f"of {total:,}"), f"the pager says {shown_range!r} with {total} rows")
    browser.screenshot(screenshot)
    browser.fill("[data-control=filter]", needle)
    wait_until(f"the filter narrows {page} to {needle}", FIGURES_MATCH_S,
               lambda: browser.column(f"tr[{key}]", key) == [needle])
    browser.fill("[data-control=filter]", "")
    return statistics.median(cold), statistics.median(warm)


def pages_stay_fast_at_scale(browser, cluster):
    seed_at_scale(cluster)
    topics = len(cluster.get("/v1/topics")["topics"])
    positions = sum(len(t) for t in cluster.get("/v1/cluster")["consumers"].values())
    topics_cold, topics_warm = list_at_scale(browser, "topics", "data-topic", topics, "load-0999", "topics-1000")
    groups_cold, groups_warm = list_at_scale(browser, "groups", "data-group", positions, "load-group-042",
                                             "groups-100")
    summary = {
        "topics": topics, "group_positions": positions,
        "topics_page_load_ms": round(topics_cold), "topics_page_move_ms": round(topics_warm),
        "groups_page_load_ms": round(groups_cold), "groups_page_move_ms": round(groups_warm),
    }
    print(f"console load times: {json.dumps(summary)}", flush=True)
    log(f"at {topics} topics: the Topics page loads in {topics_cold:.0f} ms (navigation start to its data on "
        f"screen), {topics_warm:.0f} ms moving to it; at {positions} group positions the Groups page in "
        f"{groups_cold:.0f} ms, {groups_warm:.0f} ms moving to it (medians of {LOAD_SAMPLES})")
    browser.check_logs("at scale", allowed=OLDER_NODE)


def cluster_page_follows_a_new_leader(browser, cluster):
    browser.visit("/cluster", "cluster")
    old = cluster.leader()
    check(old != cluster.console_node, "the console is served by a follower")
    wait_until(f"node {old} marked as leader", FIGURES_MATCH_S,
               lambda: browser.all(f"tr[data-node-id='{old}'][data-leader=true]"))
    os.kill(cluster.nodes[old]["pid"], signal.SIGKILL)
    killed = time.monotonic()
    log(f"killed the leader, node {old} (pid {cluster.nodes[old]['pid']})")

    def new_leader_shown():
        marked = browser.column("tr[data-leader=true]", "data-node-id")
        return marked and marked != [str(old)] and marked

    [shown] = wait_until("a new leader on the Cluster page", NEW_LEADER_SHOWN_S, new_leader_shown)
    log(f"the Cluster page named node {shown} leader {1000 * (time.monotonic() - killed):.0f} ms after the kill")
    check(str(cluster.leader()) == shown, "the leader the page shows is the one the API names")
    browser.screenshot("cluster-failover")
    if cluster.request("GET", "/v1/events")[0] == 200:
        term = cluster.get("/v1/cluster")["term"]
        browser.visit("/events", "events")
        wait_until(f"node {shown}'s election in term {term} on the Events page", FIGURES_MATCH_S,
                   lambda: any(row["fields"]["term"] == str(term)
                               for row in browser.table("tr[data-kind=leader_elected]")))
        browser.screenshot("events-failover")
    # A node without a leader for a moment answers 503 (no_leader) to what
    # needs one.
    browser.check_logs("after the leader's kill", allowed=OLDER_NODE + ((503, "GET", r"/v1/.*"),))


def main():
    cluster = Cluster()
    shots = os.environ.get("ORDO_CONSOLE_SCREENSHOTS") or tempfile.mkdtemp(prefix="ordo-console-shots-")
    os.makedirs(shots, exist_ok=True)
    log(f"screenshots in {shots}")
    seed(cluster)
    started = time.monotonic()
    browser = Browser("{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(cluster.url)), shots)
    try:
        for step in [asks_for_a_token, cluster_page_shows_each_node, topics_page_shows_each_topic,
                     topic_page_shows_records, live_tail_shows_new_records, append_form_appends,
                     topics_page_draws_append_rates, groups_page_shows_each_position,
                     queues_page_shows_each_queue, events_page_shows_recent_events,
                     read_only_principal_may_not_append, pages_stay_fast_at_scale,
                     cluster_page_follows_a_new_leader]:
            step_started = time.monotonic()
            step(browser, cluster)
            log(f"ok: {step.__name__} ({time.monotonic() - step_started:.1f} s)")
    except Exception:
        log(f"failed; the page as it was: {browser.screenshot('failure')}")
        raise
    finally:
        browser.quit()
    log(f"the console passed every check in {time.monotonic() - started:.0f} s "
        f"({browser.requests} requests, all to {browser.origin})")


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        log(f"FAILED: {failure}")
        sys.exit(1)
