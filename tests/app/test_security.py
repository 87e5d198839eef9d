"""Security: user strings escaped on every page and export, the headers of every response, static files
kept inside static/, cross-origin access closed unless configured, unknown JSON fields refused, and no
script that runs text as code."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from app.main import DOCS_PAGES
from app.pages.walkthrough import WALKTHROUGHS
from app.security import PAGE_POLICY, cors_origins, docs_policy

ROOT = Path(__file__).resolve().parents[2]
PAYLOADS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')
MARKER = "alert(1)"
FIXED_PAGES = ("/", "/network", "/architecture", "/architecture/compare", "/practice", "/examples")
FOLLOWED_LINKS = 12
"""Links carrying the payload followed from each answer (exports, the paired op, the steps fragment)."""


def page_paths(client) -> list[str]:
    """Every page: the walkthroughs' registry and the fixed pages that this build serves."""
    paths = [f"/{slug}" for slug in WALKTHROUGHS] + list(FIXED_PAGES)
    return [path for path in paths if client.get(path).status_code != 404]


class Forms(HTMLParser):
    """The GET forms of a page: action, fields with their current values, and the buttons' other actions."""

    def __init__(self, page: str):
        super().__init__()
        self.page = page
        self.forms: list[dict] = []
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("method", "get").lower() == "get":
            action = (a.get("action") or self.page).split("#")[0]
            self.forms.append({"actions": [action], "fields": {}})
        if not self.forms:
            return
        form = self.forms[-1]
        name = a.get("name")
        if tag == "input" and name and a.get("type", "text") not in ("submit", "button", "reset", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                form["fields"].setdefault(name, None)
            else:
                form["fields"][name] = a.get("value", "")
        elif tag == "textarea" and name:
            form["fields"][name] = ""
            self.textarea = name
        elif tag == "select" and name:
            form["fields"][name] = None
            self.select = name
        elif tag == "option" and self.select and (form["fields"][self.select] is None or "selected" in a):
            form["fields"][self.select] = a.get("value", "")
        elif tag == "button" and a.get("formaction"):
            form["actions"].append(a["formaction"].split("#")[0])

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None
        if tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea and self.forms:
            self.forms[-1]["fields"][self.textarea] += data


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def forms_of(html: str, page: str) -> list[dict]:
    parser = Forms(page)
    parser.feed(html)
    return [{**f, "fields": {k: v for k, v in f["fields"].items() if v is not None}} for f in parser.forms]


def payload_links(html: str) -> list[str]:
    """Same-site links whose query carries a payload, without fragments, each once."""
    parser = Links()
    parser.feed(html)
    seen: dict[str, None] = {}
    for href in parser.hrefs:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.query:
            continue
        if any(MARKER in value for _, value in parse_qsl(parts.query)):
            seen[f"{parts.path}?{parts.query}"] = None
    return list(seen)[:FOLLOWED_LINKS]


def assert_safe(response, where: str) -> None:
    """An HTML answer holds no payload unescaped and carries the page policy; anything else is not HTML."""
    assert response.status_code < 500, (where, response.status_code)
    assert response.headers["x-content-type-options"] == "nosniff", where
    kind = response.headers.get("content-type", "")
    if kind.startswith("text/html"):
        for payload in PAYLOADS:
            assert payload not in response.text, f"{where}: {payload!r} unescaped"
        assert response.headers["content-security-policy"] == PAGE_POLICY, where
    else:
        assert "html" not in kind, (where, kind)


def _crawl(client, path: str) -> int:
    """Every field of every GET form on ``path`` given each payload; then the links the answer carries on."""
    checked = 0
    home = client.get(path)
    assert_safe(home, path)
    for form in forms_of(home.text, path):
        for name in form["fields"]:
            for payload in PAYLOADS:
                query = urlencode({**form["fields"], name: payload})
                for action in form["actions"]:
                    url = f"{action}?{query}"
                    answer = client.get(url)
                    assert_safe(answer, url)
                    checked += 1
                    if "html" in answer.headers.get("content-type", ""):
                        for link in payload_links(answer.text):
                            assert_safe(client.get(link), f"{link} (from {url})")
                            checked += 1
    return checked


def test_pages_are_found_from_the_registries(client):
    paths = page_paths(client)
    assert {f"/{slug}" for slug in WALKTHROUGHS} <= set(paths)
    assert {"/", "/network", "/architecture"} <= set(paths)


def test_every_field_of_every_page_escapes_script_tags(client):
    checked = sum(_crawl(client, path) for path in page_paths(client))
    assert checked > 200


EXPORTS = ("export.tex", "export.md", "export.py")


@pytest.mark.parametrize("slug", list(WALKTHROUGHS))
def test_steps_fragment_and_exports_escape_every_field(client, slug):
    """The steps the player fetches are HTML and escape; an export is never served as HTML."""
    exports = [e for e in EXPORTS if client.get(f"/{slug}/{e}").status_code != 404]
    for field in WALKTHROUGHS[slug].fields:
        for payload in PAYLOADS:
            url = f"/{slug}/steps?{urlencode({field.name: payload, 'offset': 0})}"
            assert_safe(client.get(url), url)
            for export in exports:
                url = f"/{slug}/{export}?{urlencode({field.name: payload})}"
                assert_safe(client.get(url), url)


# --- headers --------------------------------------------------------------------------------

def test_every_page_has_the_policy_and_headers(client):
    for path in page_paths(client):
        response = client.get(path)
        assert response.headers["content-security-policy"] == PAGE_POLICY, path
        assert response.headers["referrer-policy"] == "same-origin", path
        assert response.headers["x-content-type-options"] == "nosniff", path


def test_page_policy_allows_nothing_inline():
    directives = dict(d.strip().split(" ", 1) for d in PAGE_POLICY.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert "unsafe" not in PAGE_POLICY


def test_pages_hold_no_inline_script_or_style(client):
    for path in page_paths(client) + ["/conv2d?input=1 2; 3 4&kernel=1"]:
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\sstyle=|<style", html), path
        assert not re.search(r"\son[a-z]+=", html), path


@pytest.mark.parametrize("path", DOCS_PAGES)
def test_docs_allow_only_their_own_inline_script_by_hash(client, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert policy == docs_policy(response.content)
    assert "'unsafe-eval'" not in policy
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]


@pytest.mark.parametrize("path", ["/api/v1/architecture/presets", "/static/style.css", "/openapi.json", "/nowhere"])
def test_other_responses_are_not_sniffed(client, path):
    response = client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "content-security-policy" not in response.headers


def test_refusals_before_the_app_carry_the_headers_too(client):
    response = client.post("/api/v1/conv2d", content=b"[" * 10, headers={"content-length": str(10**9)})
    assert response.status_code == 413
    assert response.headers["x-content-type-options"] == "nosniff"


# --- static files ---------------------------------------------------------------------------

TRAVERSALS = ["/static/../pyproject.toml", "/static/../app/main.py", "/static/%2e%2e/pyproject.toml",
              "/static/%2E%2E/app/main.py", "/static/..%2fpyproject.toml", "/static/..%2Fapp%2Fmain.py",
              "/static/%2e%2e%2fpyproject.toml", "/static/%252e%252e/pyproject.toml",
              "/static/..\\pyproject.toml", "/static/..%5cpyproject.toml", "/static//etc/passwd",
              "/static/%2fetc%2fpasswd", "/static/....//pyproject.toml", "/static/style.css/../../pyproject.toml"]


@pytest.mark.parametrize("raw", TRAVERSALS)
def test_static_files_cannot_reach_outside_static(asgi, raw):
    """The path as a server hands it to the app: percent-decoded, dot segments left in."""
    response = asgi("GET", raw)
    assert response.status in (400, 404), (raw, response.status)
    assert b"[project]" not in response.body and b"FastAPIOffline" not in response.body
    assert b"root:" not in response.body


@pytest.mark.parametrize("raw", TRAVERSALS)
def test_static_files_cannot_reach_outside_static_over_http(live_server, raw):
    import http.client

    connection = http.client.HTTPConnection(*live_server, timeout=10)
    connection.request("GET", raw)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status in (400, 404), (raw, response.status)
    assert b"[project]" not in body and b"FastAPIOffline" not in body and b"root:" not in body


def test_static_files_are_served(client):
    assert client.get("/static/style.css").status_code == 200


# --- cross-origin ---------------------------------------------------------------------------

COURSE = "https://course.example"
SEED000 = {"input": [[2, 0, 1, 2], [1, 1, 0, 1], [0, 2, 1, 0], [1, 0, 2, 1]],
           "kernel": [[1, -1, 0], [0, 1, -1], [1, 0, 1]]}


def test_cross_origin_is_closed_by_default(client):
    response = client.post("/api/v1/conv2d", json=SEED000, headers={"Origin": COURSE})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options("/api/v1/conv2d", headers={
        "Origin": COURSE, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize("value, origins", [
    (None, []), ("", []), (" ", []), (COURSE, [COURSE]), (f"{COURSE}/, https://b.example ", [COURSE, "https://b.example"]),
    ("*", ["*"])])
def test_cors_setting_is_read_as_a_list_of_origins(value, origins):
    assert cors_origins({} if value is None else {"CNNSTEPS_CORS_ORIGINS": value}) == origins


def test_cors_setting_opens_the_api_to_the_course_site_only():
    """The app started with CNNSTEPS_CORS_ORIGINS set (a fresh interpreter: the setting is read at startup)."""
    script = textwrap.dedent(f"""
        import json
        from fastapi.testclient import TestClient
        from app.main import app
        client = TestClient(app)
        body = {json.dumps(SEED000)}
        out = {{}}
        for origin in ({COURSE!r}, "https://elsewhere.example"):
            pre = client.options("/api/v1/conv2d", headers={{"Origin": origin, "Access-Control-Request-Method": "POST",
                                                           "Access-Control-Request-Headers": "content-type"}})
            post = client.post("/api/v1/conv2d", json=body, headers={{"Origin": origin}})
            out[origin] = [pre.status_code, pre.headers.get("access-control-allow-origin"),
                           post.status_code, post.headers.get("access-control-allow-origin")]
        print(json.dumps(out))
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**_environment(), "CNNSTEPS_CORS_ORIGINS": COURSE})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out[COURSE] == [200, COURSE, 200, COURSE]
    assert out["https://elsewhere.example"][1] is None and out["https://elsewhere.example"][3] is None


def _environment() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "CNNSTEPS_CORS_ORIGINS"}


# --- unknown fields -------------------------------------------------------------------------

def _request_bodies(openapi: dict) -> list[tuple[str, dict]]:
    bodies = []
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content:
                bodies.append((f"{method.upper()} {path}", content["schema"]))
    return bodies


def _resolve(openapi: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _models(openapi: dict, schema, seen: set[str]) -> None:
    """The names of every component schema reachable from ``schema``."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                _models(openapi, openapi["components"]["schemas"][name], seen)
        for value in schema.values():
            _models(openapi, value, seen)
    elif isinstance(schema, list):
        for value in schema:
            _models(openapi, value, seen)


def test_every_body_model_refuses_unknown_fields_in_its_schema(client):
    openapi = client.get("/openapi.json").json()
    bodies = _request_bodies(openapi)
    assert len(bodies) >= 20
    names: set[str] = set()
    for _, schema in bodies:
        _models(openapi, schema, names)
    objects = {name: openapi["components"]["schemas"][name] for name in names
               if "properties" in openapi["components"]["schemas"][name]}
    assert objects
    open_models = [name for name, schema in objects.items() if schema.get("additionalProperties") is not False]
    assert not open_models


def test_every_body_refuses_an_unknown_field(client):
    openapi = client.get("/openapi.json").json()
    for operation, schema in _request_bodies(openapi):
        method, path = operation.split(" ", 1)
        model = _resolve(openapi, schema)
        example = (model.get("examples") or [None])[0]
        assert isinstance(example, dict), f"{operation} has no example body"
        assert client.post(path, json=example).status_code == 200, operation
        response = client.post(path, json={**example, "unexpected_field": 1})
        assert response.status_code == 422, operation
        assert {"loc": ["body", "unexpected_field"], "type": "extra_forbidden"}.items() <= \
            next(d for d in response.json()["detail"] if d["loc"][-1] == "unexpected_field").items()


@pytest.mark.parametrize("where", ["layer", "loss", "optimizer"])
def test_network_refuses_unknown_fields_inside_its_objects(api, where):
    body = {"input": [[2, 0], [1, 1]], "layers": [{"type": "flatten"}, {"type": "linear", "weight": [[1, 1, 1, 1]]}],
            "target": [1], "loss": {"kind": "mse"}, "optimizer": {"kind": "sgd", "lr": 0.1}}
    if where == "layer":
        body["layers"][1]["colour"] = "red"
        expected = ["body", "layers", 1, "linear", "colour"]
    else:
        body[where]["colour"] = "red"
        expected = ["body", where, "colour"]
    locs = api.locs("network", body)
    assert any(loc[:2] == expected[:2] and loc[-1] == "colour" for loc in locs), locs


# --- scripts --------------------------------------------------------------------------------

SCRIPTS = sorted((ROOT / "static").glob("*.js"))
RUNS_TEXT = re.compile(r"\beval\s*\(|\bnew\s+Function\b|\bFunction\s*\(|document\.write|insertAdjacentHTML|"
                       r"outerHTML\s*=|set(?:Timeout|Interval)\s*\(\s*['\"`]|javascript:")


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_scripts_never_run_or_parse_text_as_code(script):
    text = script.read_text()
    assert not RUNS_TEXT.search(text), RUNS_TEXT.search(text).group(0)
    for line in text.splitlines():
        if "innerHTML" in line:  # only the server's own rendered fragments are parsed as HTML
            assert re.search(r"\.innerHTML\s*=\s*await\s+response\.text\(\)", line), line


PYTHON = sorted((ROOT / "app").rglob("*.py")) + sorted((ROOT / "engine").rglob("*.py"))
RUNS_PYTHON = re.compile(r"(?<![\w.])(?:eval|exec|compile|__import__)\s*\(|\bpickle\b|yaml\.load\b|os\.system")


def test_server_code_never_runs_text_as_code():
    found = [f"{path.relative_to(ROOT)}: {match.group(0)}" for path in PYTHON
             for match in RUNS_PYTHON.finditer(path.read_text())]
    assert not found, found
