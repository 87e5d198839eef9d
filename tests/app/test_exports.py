"""The exports of every walkthrough page: /<slug>/export.tex, .md and .py.

The LaTeX is checked for structure and compiled with pdflatex (scripts/test installs it); every exported
script is run and must print the trace's numbers, with PyTorch and with PyTorch hidden; a bad
problem is a clear 422; user text never reaches a document unescaped.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from urllib.parse import urlencode

import numpy as np
import pytest

from starlette.requests import Request

from app.exports_py import script
from app.exports_text import UnknownCharacter, equation_rows, latex_text, markdown_text
from app.limits import EXPORT_SCRIPT_NUMBERS, EXPORT_STEPS
from app.main import app  # noqa: F401  (registers every page)
from app.pages.exports import page_url
from app.pages.walkthrough import WALKTHROUGHS

SLUGS = list(WALKTHROUGHS)
EXTENSIONS = {"tex": "text/x-tex", "md": "text/markdown", "py": "text/x-python"}


def problems() -> list[tuple[str, str, dict[str, str]]]:
    """(slug, name, query) for every page's default problem and every preset."""
    cases = []
    for slug, w in WALKTHROUGHS.items():
        defaults = {f.name: f.default for f in w.fields}
        cases.append((slug, "default", defaults))
        cases += [(slug, p.title, {**defaults, **p.query}) for p in w.presets]
    return cases


PROBLEMS = problems()
IDS = [f"{slug}: {name}" for slug, name, _ in PROBLEMS]


def export(client, slug: str, ext: str, query: dict[str, str] | None = None):
    return client.get(f"/{slug}/export.{ext}" + (f"?{urlencode(query)}" if query else ""))


def flat(values: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# ---------------------------------------------------------------- status, type, filename

@pytest.mark.parametrize("ext", EXTENSIONS)
@pytest.mark.parametrize("slug", SLUGS)
def test_every_export_of_every_default_problem_answers_with_its_type_and_a_filename(client, slug, ext):
    response = export(client, slug, ext)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(EXTENSIONS[ext])
    assert response.headers["content-disposition"] == f'inline; filename="{slug.replace("/", "-")}.{ext}"'


@pytest.mark.parametrize("slug", SLUGS)
def test_every_walkthrough_page_links_its_three_exports_with_its_own_query(client, slug):
    page = client.get(f"/{slug}")
    assert page.status_code == 200
    for ext in EXTENSIONS:
        links = re.findall(rf'href="(/{re.escape(slug)}/export\.{ext}\?[^"]*)"', page.text)
        assert len(links) == 1, ext
        followed = client.get(links[0].replace("&amp;", "&"))
        assert followed.status_code == 200
        assert followed.text == export(client, slug, ext).text   # the page's query is the default problem


def test_an_export_link_carries_the_problem_of_the_page(client):
    query = {"input": "1 2 3; 4 5 6; 7 8 9", "kernel": "1 0; 0 -1", "stride": "1"}
    page = client.get("/conv2d", params=query)
    link = re.search(r'href="(/conv2d/export\.py\?[^"]*)"', page.text).group(1).replace("&amp;", "&")
    script = client.get(link).text
    assert "[1, 2, 3]" in script and "[1, 0]" in script and "[0, -1]" in script


# ---------------------------------------------------------------- the scripts run

def _printed(stdout: str, name: str) -> np.ndarray | None:
    """The numbers the script printed under 'name =' (up to the blank line), or None."""
    match = re.search(rf"^{re.escape(name)} =\n(.*?)\n\n", stdout, re.M | re.S)
    if match is None:
        return None
    numbers = re.findall(r"-?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)", match.group(1))
    return np.array([float(n) for n in numbers])


HIDE_TORCH = "import sys; sys.modules['torch'] = None; sys.argv = [sys.argv[1]]; exec(open(sys.argv[0]).read())"


@pytest.mark.parametrize("slug,name,query", PROBLEMS, ids=IDS)
def test_every_exported_script_runs_and_prints_the_traces_numbers(client, tmp_path, slug, name, query):
    response = export(client, slug, "py", query)
    assert response.status_code == 200, response.text
    path = tmp_path / "export.py"
    path.write_text(response.text, encoding="utf-8")
    trace = WALKTHROUGHS[slug].run(query)
    outputs = {k: v for k, v in flat(trace.outputs).items() if k != "cells" and not k.startswith("state.")}
    runs = [[sys.executable, str(path)], [sys.executable, "-c", HIDE_TORCH, str(path)]]
    for command in runs:
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "PYTHONIOENCODING": "utf-8"})
        assert result.returncode == 0, result.stderr
        assert "Every number agrees with cnnsteps" in result.stdout
        for key, value in outputs.items():
            printed = _printed(result.stdout, key)
            assert printed is not None, f"{key} is not printed"
            np.testing.assert_allclose(printed, np.ravel(np.asarray(value, dtype=float)), rtol=1e-5, atol=1e-9)
    hidden = subprocess.run(runs[1], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "PyTorch is not installed" in hidden.stdout


def test_a_script_stops_with_an_error_when_its_numbers_are_changed(client, tmp_path):
    script = export(client, "conv2d", "py").text
    changed = script.replace("'output': np.array([\n        [4, 0],", "'output': np.array([\n        [5, 0],")
    assert changed != script
    path = tmp_path / "changed.py"
    path.write_text(changed, encoding="utf-8")
    result = subprocess.run([sys.executable, str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "differs from cnnsteps" in result.stderr


def test_a_drawn_dropout_mask_is_drawn_again_from_its_seed_in_the_script(client):
    script = export(client, "dropout", "py", {"input": "1 2 3 4 5; 6 7 8 9 10", "p": "0.2", "seed": "7"}).text
    assert re.search(r"^seed = 7 ", script, re.M) and re.search(r"^mask = None$", script, re.M)
    assert "np.random.default_rng(seed)" in script


def test_the_optimizer_script_starts_from_the_first_parameters_and_repeats_the_update(client):
    script = export(client, "optimizer", "py", {"kind": "adam", "lr": "0.001", "steps": "5"}).text
    assert "params = {'w': np.array([0.2, -0.5, 0.4, 0.1], dtype=float), 'b': 0.2}" in script
    assert "updates = 5\n" in script and "torch.optim.Adam" in script


# ---------------------------------------------------------------- refusals and user text

@pytest.mark.parametrize("ext", EXTENSIONS)
def test_a_bad_problem_is_a_422_that_names_the_field(client, ext):
    response = export(client, "conv2d", ext, {"input": "1 2; 3 x", "kernel": "1"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/plain")
    assert "input" in response.text and "Traceback" not in response.text


def test_a_choice_outside_its_list_and_a_kernel_too_large_are_422s(client):
    assert export(client, "pool2d", "md", {"kind": "median"}).status_code == 422
    response = export(client, "conv2d", "tex", {"input": "1 2; 3 4", "kernel": "1 2 3; 4 5 6; 7 8 9"})
    assert response.status_code == 422 and "kernel" in response.text


def test_an_unknown_page_or_format_is_a_404_that_lists_the_exports(client):
    assert client.get("/nothing/export.py").status_code == 404
    response = client.get("/conv2d/export.pdf")
    assert response.status_code == 404 and "export.tex" in response.text


@pytest.mark.parametrize("ext", EXTENSIONS)
@pytest.mark.parametrize("text", ["</script><script>alert(1)</script>", r"\input{/etc/passwd}", "$x$ & 100% #1 _ ~ ^"])
def test_markup_in_a_matrix_field_is_refused_by_the_parser(client, ext, text):
    response = export(client, "conv2d", ext, {"input": text, "kernel": "1"})
    assert response.status_code == 422
    assert "<script>" not in response.text.replace(text, "")   # only the refusal's quote of the input


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_markup_in_other_query_fields_never_reaches_an_export(client, ext):
    response = export(client, "conv2d", ext, {"note": "</script>", "title": r"\input{/etc/passwd}"})
    assert response.status_code == 200
    assert "</script>" not in response.text and r"\input{" not in response.text


@pytest.mark.parametrize("host,start", [(b"class.example:8794", "http://class.example:8794/conv2d?"),
                                       (b'evil"\\host', "http://testserver/conv2d?")])
def test_the_page_address_is_percent_encoded_and_a_plain_string_literal_in_the_script(host, start):
    scope = {"type": "http", "method": "GET", "scheme": "http", "path": "/conv2d", "root_path": "",
             "query_string": b"", "server": ("testserver", 80), "headers": [(b"host", host)]}
    w = WALKTHROUGHS["conv2d"]
    query = {**{f.name: f.default for f in w.fields}, "input": "1 2; 3 4", "kernel": "1"}
    url = page_url(Request(scope), w, query)
    assert url.startswith(start + "input=1+2%3B+3+4")
    assert not set(url) & set("\"'\\ \n<>{}")
    tree = ast.parse(script(w.run(query), query, url, w.title, "conv2d.py"))
    page = next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                and getattr(node.targets[0], "id", "") == "PAGE")
    assert page == url


# ---------------------------------------------------------------- LaTeX: the escaper

SPECIALS = re.compile(r"(?<!\\)[&%$#_^~{}]")


def _texts() -> list[str]:
    """Every plain string a LaTeX export writes: titles, intros and labels of the pages, and every step's title
    and message and every note of each page's default problem and presets."""
    texts = []
    for w in WALKTHROUGHS.values():
        texts += [w.title, w.intro] + [f.label for f in w.fields]
    for slug, _, query in PROBLEMS:
        trace = WALKTHROUGHS[slug].run(query)
        texts += list(trace.notes)
        for step in trace.steps:
            texts += [step.title, step.message] + [s.title for s in step.substeps] + [s.message for s in step.substeps]
    return texts


def test_every_plain_string_of_every_page_has_a_latex_spelling():
    for text in set(_texts()):
        escaped = latex_text(text, strict=True)   # raises on a character with no spelling
        assert escaped.isascii(), text
        bare = re.sub(r"\\ensuremath\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}", "", escaped)
        bare = re.sub(r"\\[A-Za-z]+\{\}|\\[&%$#_{}]|\\[`'\"~^=c]\{[A-Za-z]\}", "", bare)
        assert not SPECIALS.search(bare), (text, escaped)


@pytest.mark.parametrize("text,escaped", [
    ("50% of a_b & c", r"50\% of a\_b \& c"),
    ("{x} ~ y^2 # \\", r"\{x\} \textasciitilde{} y\textasciicircum{}2 \# \textbackslash{}"),
    ("∂L/∂x − δ", r"\ensuremath{\partial}L/\ensuremath{\partial}x \ensuremath{-} \ensuremath{\delta}"),
    ("x̂ and ŷ", r"\ensuremath{\hat{x}} and \ensuremath{\hat{y}}"),
    ("½Σ, σ², Wᵀ, ≥ 0, → café", r"\ensuremath{\tfrac{1}{2}}\ensuremath{\Sigma}, \ensuremath{\sigma}\ensuremath{^{2}}, "
                                r"W\ensuremath{^{\mathsf{T}}}, \ensuremath{\ge} 0, \ensuremath{\to} caf\'{e}"),
    ("</script>", r"\textless{}/script\textgreater{}"),
])
def test_latex_text_escapes_the_specials_and_spells_the_unicode(text, escaped):
    assert latex_text(text) == escaped


def test_a_character_without_a_latex_spelling_is_a_question_mark_or_an_error_when_strict():
    assert latex_text("snow ☃") == "snow ?"
    with pytest.raises(UnknownCharacter):
        latex_text("snow ☃", strict=True)


def test_markdown_text_escapes_markup():
    assert markdown_text("<b>*x*</b> [a](b) _c_ | # $") == r"&lt;b&gt;\*x\*&lt;/b&gt; \[a\](b) \_c\_ \| \# \$"


def test_an_expansion_becomes_rows_aligned_at_each_equals_sign():
    assert equation_rows(r"z_{1,1} = 2(1) + 0(-1) = 2") == [r"z_{1,1} &= 2(1) + 0(-1)", "&= 2"]
    assert equation_rows(r"a = \frac{b = c}{2},\quad d \leftarrow e \\ f") == [
        r"a &= \frac{b = c}{2},", r"d &\leftarrow e", "& f"]
    long = " + ".join(f"{k}({k})" for k in range(40)) + " = 1"
    rows = equation_rows("y = " + long)
    assert len(rows) > 3 and all(r.startswith(("y &=", r"&\quad", "&=")) for r in rows)


# ---------------------------------------------------------------- LaTeX: the document's structure

KNOWN_COMMANDS = set(r"""
\documentclass \usepackage \setcounter \allowdisplaybreaks \setlength \parindent \parskip \title \author \date
\begin \end \maketitle \section \subsection \item \texttt \text \ensuremath \allowbreak \textasciitilde
\textasciicircum \textbackslash \textless \textgreater \textbar \textbullet \ldots \S \P \copyright
\frac \tfrac \sum \max \min \log \exp \sqrt \cdot \times \div \pm \le \ge \ne \approx \to \leftarrow
\leftrightarrow \Rightarrow \infty \surd \circ \ast \star \odot \in \mid \lfloor \rfloor \lceil \rceil \left \right
\Big \big \quad \qquad \mathrm \mathsf \operatorname \hat \prime \partial \nabla \ell \ni \textstyle \tanh
\alpha \beta \gamma \delta \epsilon \varepsilon \zeta \eta \theta \iota \kappa \lambda \mu \nu \xi \pi \rho \sigma
\tau \upsilon \phi \varphi \chi \psi \omega \Gamma \Delta \Theta \Lambda \Xi \Pi \Sigma \Upsilon \Phi \Psi \Omega
""".split())
"""Commands of LaTeX and amsmath the exports may use: a new one in the engine's LaTeX fails here first."""


def _strip_math(tex: str) -> str:
    tex = re.sub(r"\\begin\{(align\*|gather\*)\}.*?\\end\{\1\}", "", tex, flags=re.S)
    tex = re.sub(r"\\\[.*?\\\]", "", tex, flags=re.S)
    tex = re.sub(r"(?<!\\)\$.*?(?<!\\)\$", "", tex, flags=re.S)
    return re.sub(r"\\ensuremath\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}", "", tex)


def check_latex_structure(tex: str) -> None:
    assert tex.startswith(r"\documentclass")
    assert tex.count(r"\begin{document}") == 1 and tex.rstrip().endswith(r"\end{document}")
    assert tex.isascii()
    body = re.sub(r"\\[{}%&#$_]", "", tex)
    depth = 0
    for char in body:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    stack = []
    for kind, name in re.findall(r"\\(begin|end)\{([^}]*)\}", tex):
        if kind == "begin":
            stack.append(name)
        else:
            assert stack and stack.pop() == name, name
    assert not stack
    commands = set(re.findall(r"\\[A-Za-z]+", tex))
    assert commands <= KNOWN_COMMANDS, commands - KNOWN_COMMANDS
    preamble, document = tex.split(r"\begin{document}")
    text = _strip_math(document)
    text = re.sub(r"\\[A-Za-z]+\{\}|\\[&%$#_{}]|\\[`'\"~^=c]\{[A-Za-z]\}", "", text)
    assert not re.search(r"(?<!\\)[&%$#_^~]", text), re.search(r".{40}(?<!\\)[&%$#_^~].{40}", text)
    for block in re.findall(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", tex, re.S):
        for row in block.split(" \\\\\n"):
            top = re.sub(r"\\begin\{(\w+)\}.*?\\end\{\1\}", "", row, flags=re.S)
            assert len(re.findall(r"(?<!\\)&", top)) <= 1, row


@pytest.mark.parametrize("slug,name,query", PROBLEMS, ids=IDS)
def test_every_latex_export_is_a_well_formed_document(client, slug, name, query):
    tex = export(client, slug, "tex", query).text
    check_latex_structure(tex)
    trace = WALKTHROUGHS[slug].run(query)
    assert tex.count(r"\subsection*{Step ") == min(len(trace.steps), EXPORT_STEPS)


@pytest.mark.parametrize("slug", SLUGS)
def test_every_latex_export_compiles_with_pdflatex(client, tmp_path, slug):
    assert shutil.which("pdflatex"), "pdflatex is missing: scripts/test installs Debian's texlive-latex-base"
    (tmp_path / "export.tex").write_text(export(client, slug, "tex").text, encoding="ascii")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "export.tex"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]
    assert (tmp_path / "export.pdf").exists()


def test_a_long_walkthrough_exports_its_first_steps_and_says_how_many_more(client):
    query = {"input": "\n".join(" ".join(str((r * 3 + c) % 5) for c in range(20)) for r in range(20)), "kernel": "1 0 -1"}
    tex = export(client, "conv2d", "tex", query).text
    check_latex_structure(tex)
    assert tex.count(r"\subsection*{Step ") == EXPORT_STEPS
    assert f"The first {EXPORT_STEPS} of 360 steps; the other 160 are on the page" in tex
    md = export(client, "conv2d", "md", query).text
    assert md.count("\n### Step ") == EXPORT_STEPS and "the other 160 are on the page" in md


def test_the_latex_export_holds_the_problem_the_rule_the_steps_and_the_results(client):
    tex = export(client, "conv2d", "tex").text
    assert r"\title{2-D convolution}" in tex
    assert r"\begin{pmatrix} 2 & 0 & 1 & 2 \\ 1 & 1 & 0 & 1 \\ 0 & 2 & 1 & 0 \\ 1 & 0 & 2 & 1 \end{pmatrix}" in tex
    assert r"z_{1,1} &= 2(1) + 0(-1) + 1(0) + 1(0) + 1(1) + 0(-1) + 0(1) + 2(0) + 1(1) \\" in tex
    assert r"\begin{pmatrix} 4 & 0 \\ 4 & 3 \end{pmatrix}" in tex
    assert r"\subsection*{Step 4. Output z(2,2) = 3}" in tex
    assert "Cross-correlation (PyTorch's conv2d)" in tex


# ---------------------------------------------------------------- Markdown

@pytest.mark.parametrize("slug,name,query", PROBLEMS, ids=IDS)
def test_every_markdown_export_has_its_sections_and_closed_blocks(client, slug, name, query):
    md = export(client, slug, "md", query).text
    assert md.startswith(f"# {markdown_text(WALKTHROUGHS[slug].title)}\n")
    for heading in ("## The problem", "## The rule", "## Step by step", "## Results"):
        assert f"\n{heading}\n" in md
    assert md.count("$$") % 2 == 0 and md.count("```") % 2 == 0
    assert md.count(r"\begin{aligned}") == md.count(r"\end{aligned}")


def test_the_markdown_export_writes_matrices_as_code_blocks_and_steps_as_equations(client):
    md = export(client, "conv2d", "md").text
    assert "  ```text\n  2  0  1  2\n  1  1  0  1\n  0  2  1  0\n  1  0  2  1\n  ```" in md
    assert "### Step 1. Output z(1,1) = 4" in md
    assert "$$\n\\begin{aligned}\nz_{1,1} &= \\sum" in md


def test_unicode_in_the_markdown_export_stays_as_typed(client):
    md = export(client, "conv2d/backward", "md").text
    assert "∂L/∂x(1,1)" in md and unicodedata.is_normalized("NFC", md)



def test_a_script_too_large_to_write_is_a_422_naming_the_limit_while_the_documents_describe_it(client):
    query = {"input": "\n".join(" ".join(str((r + c) % 3) for c in range(100)) for r in range(100)),
             "kernel": "", "kernel_size": "10", "stride": "1", "padding": "0", "dilation": "1"}
    response = export(client, "im2col", "py", query)
    assert response.status_code == 422 and f"{EXPORT_SCRIPT_NUMBERS:,}" in response.text
    tex = export(client, "im2col", "tex", query)
    assert tex.status_code == 200 and "too large to print here" in tex.text
    check_latex_structure(tex.text)
