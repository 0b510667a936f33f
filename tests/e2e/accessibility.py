"""The accessibility of a page as a person's browser received it, checked with axe-core (from npm, installed by
scripts/setup.sh): no violation axe rates "serious" or "critical", by axe's default rules (WCAG 2 A and AA, and
its best practices).

axe is a script to inject into the page, and the gate's pages forbid every script not served by the gate itself
(CSP ``script-src 'self'``), so Chromium would refuse it. The check therefore runs in a browser context of its own
that bypasses the pages' CSP (``bypass_csp=True``), never in the one the journey runs in, where the CSP must hold:
that context is shown the very HTML the person's browser got (with its style sheets and scripts, fetched from the
gate as usual), at its own address. Nothing is asked of the gate again, so a check changes nothing (a form with
errors is a POST's answer: posting it again would save a draft) and needs no sign-in of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, Response, ViewportSize

from models.settings import PROJECT_ROOT

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
STYLES_LOADED = "() => [...document.styleSheets].every(s => { try { return s.cssRules.length } catch { return 0 } })"


@dataclass
class Accessibility:
    """axe's checks, in a context of their own (see the module's docstring). ``last`` is the latest page the
    journey's browser was shown: follow a page with ``watch(page)``."""

    browser: Browser
    viewport: ViewportSize
    context: BrowserContext = field(init=False)
    page: Page = field(init=False)
    last: Response | None = None
    checked: list[str] = field(default_factory=list)
    minor: list[str] = field(default_factory=list)  # violations below "serious", reported, not failed

    def __post_init__(self) -> None:
        if not AXE.exists():
            raise FileNotFoundError(f"{AXE} is missing: scripts/setup.sh installs it (npm ci)")
        # bypass_csp: axe is injected as an inline script, which the pages' CSP (script-src 'self') would refuse
        self.context = self.browser.new_context(bypass_csp=True, viewport=self.viewport)
        self.page = self.context.new_page()

    def watch(self, page: Page) -> None:
        """Keep the latest document the journey's page received (a redirect's has no page to check)."""

        def seen(response: Response) -> None:
            document = response.request.is_navigation_request() and response.frame == page.main_frame
            if document and not 300 <= response.status < 400:
                self.last = response

        page.on("response", seen)

    def check(self, name: str, page: Page) -> list[dict[str, Any]]:
        """Check the page ``page`` shows now, as it was served; fails on a serious or critical violation, listing
        each with the elements it found it on. Returns every violation found."""
        shown = self.last
        assert shown is not None and shown.url == page.url, f"{name}: the page shown is not the last one served"
        html = shown.body()
        url = page.url
        page_type = "text/html; charset=utf-8"
        self.page.route(lambda u: u == url, lambda route: route.fulfill(status=200, body=html, content_type=page_type))
        try:
            self.page.goto(url)
        finally:
            self.page.unroute_all()
        # the colour contrast checks need the page's styles: every style sheet it links came from the gate
        assert self.page.evaluate(STYLES_LOADED), f"{name}: a style sheet of the page did not load"
        self.page.add_script_tag(path=str(AXE))
        results: dict[str, Any] = self.page.evaluate("() => axe.run()")
        violations: list[dict[str, Any]] = results["violations"]
        self.checked.append(name)
        blocking = [v for v in violations if v.get("impact") in BLOCKING]
        self.minor += [f"{name}: {line}" for line in described(v for v in violations if v not in blocking)]
        assert not blocking, f"accessibility of {name} ({url}):\n" + "\n".join(described(blocking))
        return violations


def described(violations: Any) -> list[str]:
    """Each violation as one line: its rule, impact and help, then the elements it was found on (axe's targets)."""
    return [
        f"{v['id']} ({v.get('impact')}): {v.get('help')}; on " + ", ".join(str(n.get("target")) for n in v["nodes"])
        for v in violations
    ]
