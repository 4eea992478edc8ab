"""The page check (tools/check_pages.py) flags each defect a reader must not meet, and passes clean pages."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("check_pages", Path(__file__).resolve().parent.parent / "tools" /
                                               "check_pages.py")
check_pages = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_pages)


def page(body: str) -> str:
    return f"<html><body><nav>CI issue session</nav><article>{body}</article></body></html>"


CLEAN = page('<p>The Gram matrix <span class="math notranslate nohighlight">\\(H = \\sum_k H_k\\)</span> is PSD.</p>'
             '<table><tr><td>1</td></tr></table><pre>| a | b |\n|---|---|</pre>'
             '<img src="f.png" alt="Loss against epochs"/><div class="cell_input"><pre>/tmp/x $a_b$</pre></div>'
             '<div class="cell_output"><figure id="fig-loss"><img src="g.png" alt="Loss"/>'
             '<figcaption>Fig. 1 The loss.</figcaption></figure></div>')


def test_clean_page_passes():
    assert check_pages.check_html(CLEAN) == []


@pytest.mark.parametrize("body, what", [
    ("<p>| m | loss |\n|---|---|\n| 100 | 0.1 |</p>", "raw Markdown table"),
    ("<p>where $\\mathbb{E}[x]$ for unit rows</p>", "unrendered LaTeX"),
    ("<p>see Figure ??</p>", "unresolved reference"),
    ("<p>CI points it at the mirror</p>", "internal wording"),
    ("<p>the benchmark issue asked for it</p>", "internal wording"),
    ("<div class='output'><pre>wrote /root/work/x.json</pre></div>", "absolute machine path"),
    ('<img src="a.png"/>', "image without alt text"),
    ('<figure><img src="a.png" alt="x"/><figcaption>breaks at None</figcaption></figure>', "caption with None/nan"),
    ("<h2>6.2. 1. The instance</h2>", "hand-written number"),
    ('<div class="cell_output"><img src="a.png" alt="x"/></div>', "figure without caption or label"),
    ('<div class="cell_output"><figure><img src="a.png" alt="x"/><figcaption>c</figcaption></figure></div>',
     "figure without caption or label"),
])
def test_each_defect_is_caught(body, what):
    problems = check_pages.check_html(page(body), "p.html")
    assert any(what in line for line in problems), problems
