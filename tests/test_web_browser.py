"""The page as a user uses it: Playwright's Python API driving Debian's chromium (its own
executable; nothing downloads a browser).  Typing, with the answer following; the typeset
gradient and its SymPy check; an error with its caret; a claim's verdict; the copy
buttons; the state in the address; the keyboard alone.  Waits are generous (60 s) and no
test measures time: the answers come from the server's warm workers, as fast as the
machine allows."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from web_support import CHROMIUM, need_chromium, start

WAIT = 60_000  # ms, for anything the server computes
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def server():
    need_chromium()
    running = start()
    yield running.url
    running.stop()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, chromium_sandbox=False, timeout=120_000)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    pg = context.new_page()
    pg.set_default_timeout(WAIT)
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.goto(server + "/")
    yield pg
    context.close()
    assert not problems, problems  # no script error, nothing refused by the Content-Security-Policy


def expect(locator):
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def annotations(pg) -> str:
    """The LaTeX of everything typeset (KaTeX keeps it in the MathML annotation)."""
    return " ".join(pg.locator("#out annotation").all_text_contents())


def test_typing_an_expression_shows_the_typeset_gradient_and_its_check(page):
    page.locator("#expr").press_sequentially("L(W x + b)", delay=20)
    page.locator("#wrt").press_sequentially("W", delay=20)  # no click, no Enter: the answer follows the typing
    expect(page.locator("#check")).to_contain_text("✓ checked with SymPy", timeout=WAIT)
    assert page.locator("#out .katex").count() >= 1
    assert "\\nabla L\\left(W x + b\\right) x^{\\top}" in annotations(page)
    expect(page.locator("#derivationbox")).to_be_hidden()  # issue 25's box: not written yet


def test_the_answer_follows_the_last_edit(page):
    page.locator("#expr").fill("x' A x")
    page.locator("#wrt").fill("x")
    expect(page.locator("#check")).to_contain_text("✓", timeout=WAIT)
    assert "\\left(A + A^{\\top}\\right) x" in annotations(page)
    page.locator("#expr").press("End")
    page.locator("#expr").press_sequentially(" + b' x", delay=30)
    # only the last text has this gradient; the answers to earlier ones were cancelled, and
    # none of them replaces it afterwards
    expect(page.locator("#out annotation").first).to_contain_text("\\left(A + A^{\\top}\\right) x + b",
                                                                   timeout=WAIT)
    expect(page.locator("#check")).to_contain_text("✓", timeout=WAIT)
    assert "x^{\\top} A x + b^{\\top} x" in annotations(page)


def test_an_error_is_shown_with_its_caret(page):
    page.locator("#expr").fill("W x +")
    page.locator("#wrt").fill("W")
    error = page.locator("#out pre.error")
    expect(error).to_contain_text("ends too early", timeout=WAIT)
    lines = error.text_content().splitlines()
    assert lines[-2].strip() == "W x +" and lines[-1].strip().startswith("^")
    expect(page.locator("#claimbox")).to_be_hidden()


def test_a_claim_gets_its_verdict(page):
    page.locator("#expr").fill("x' A x")
    page.locator("#wrt").fill("x")
    expect(page.locator("#claimbox")).to_be_visible(timeout=WAIT)
    page.locator("#claim").fill("2 A x")
    verdict = page.locator("#verdict .verdict")
    expect(verdict).to_contain_text("✗ not right", timeout=WAIT)
    expect(verdict).to_contain_text("only when A is symmetric")
    page.locator("#claim").fill("(A + A') x")
    page.locator("#checkclaim").click()
    expect(verdict).to_contain_text("✓ correct", timeout=WAIT)


def test_the_copy_buttons_copy_the_latex_and_the_code(page):
    page.locator("#expr").fill("‖A x − b‖²")
    page.locator("#wrt").fill("x")
    expect(page.locator("#check")).to_contain_text("✓", timeout=WAIT)
    page.locator("#copylatex").click()
    expect(page.locator("#copylatex")).to_have_text("copied")
    latex = page.evaluate("navigator.clipboard.readText()")
    assert latex == page.locator("#latex").input_value() and latex.startswith("\\begin{aligned}")
    page.locator("#gencode").click()
    expect(page.locator("#code")).to_contain_text("def value_and_grad", timeout=WAIT)
    page.locator("#copycode").click()
    expect(page.locator("#copycode")).to_have_text("copied")
    code = page.evaluate("navigator.clipboard.readText()")
    assert code == page.locator("#code").text_content() and "def value_and_grad" in code
    compile(code, "generated.py", "exec")  # the copied text is the module, whole


def test_the_state_is_in_the_address_and_a_reload_restores_it(page, server):
    page.locator("#expr").fill("tr(X' A X B)")
    page.locator("#wrt").fill("X")
    page.locator("#mode").select_option("hessian")
    page.locator("#steps").check()
    expect(page.locator("#out h2").first).to_have_text("Hessian", timeout=WAIT)
    page.locator("#gencode").click()
    expect(page.locator("#code")).to_contain_text("def hvp(v", timeout=WAIT)
    state = parse_qs(urlsplit(page.url).query)
    assert state == {"expr": ["tr(X' A X B)"], "wrt": ["X"], "mode": ["hessian"], "steps": ["1"], "code": ["numpy"]}
    page.reload()
    assert page.locator("#expr").input_value() == "tr(X' A X B)" and page.locator("#steps").is_checked()
    expect(page.locator("#out h2").first).to_have_text("Hessian", timeout=WAIT)
    expect(page.locator("#out h2").nth(1)).to_have_text("Derivation")
    expect(page.locator("#code")).to_contain_text("def hvp(v", timeout=WAIT)
    expect(page.locator("#check")).to_contain_text("✓", timeout=WAIT)


def _tab_to(pg, element_id: str, limit: int = 40) -> None:
    for _ in range(limit):
        pg.keyboard.press("Tab")
        if pg.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def test_the_keyboard_alone_is_enough(page):
    _tab_to(page, "expr")
    page.keyboard.type("tr(A X B)")
    _tab_to(page, "wrt")
    page.keyboard.type("X")
    page.keyboard.press("Enter")
    expect(page.locator("#check")).to_contain_text("✓", timeout=WAIT)
    assert "A^{\\top} B^{\\top}" in annotations(page)
    _tab_to(page, "claim")
    page.keyboard.type("A' B'")
    page.keyboard.press("Enter")
    expect(page.locator("#verdict .verdict")).to_contain_text("✓ correct", timeout=WAIT)
    _tab_to(page, "copylatex")
    page.keyboard.press("Enter")
    expect(page.locator("#copylatex")).to_have_text("copied")
    _tab_to(page, "gencode")
    page.keyboard.press("Enter")
    expect(page.locator("#code")).to_contain_text("def value_and_grad", timeout=WAIT)


def test_user_text_is_never_markup(page):
    page.locator("#expr").fill("<script>document.title='pwned'</script><img src=x onerror=alert(1)>")
    page.locator("#wrt").fill("<b>x</b>")
    expect(page.locator("#out pre.error")).to_contain_text("<script>", timeout=WAIT)
    assert page.title() == "matcalc"
    assert page.locator("#out img, #out script, #out b").count() == 0
