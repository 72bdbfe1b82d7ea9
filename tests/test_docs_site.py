"""The built documentation site, as a reader's browser shows it.

``make docs`` builds the site into ``docs/_build/html``; ``make test-docs``
(and CI, after installing Debian's ``chromium`` and ``chromium-driver``)
runs these tests on it. They open the pages in headless Chromium through
selenium, with the system's chromedriver (nothing is downloaded), served
from localhost; and they check every internal link of every page. Without a
built site, or without the browser, they are skipped with the reason.
"""

import functools
import http.server
import shutil
import tempfile
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

SITE = Path(__file__).resolve().parents[1] / "docs" / "_build" / "html"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ESTIMATOR_PAGE = "generated/mgclassifier.MultiGranularityClassifier.html"
GALLERY_PAGE = "auto_examples/plot_first_fit.html"

pytestmark = pytest.mark.skipif(
    not (SITE / "index.html").is_file(),
    reason=f"the documentation is not built ({SITE}): `make docs` builds it",
)


class _Links(HTMLParser):
    """The ids of a page and the links (href, src) it holds."""

    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("id", "name"):
            if attrs.get(name):
                self.ids.add(attrs[name])
        for name in ("href", "src"):
            if attrs.get(name) is not None:
                self.links.append(attrs[name])


@functools.cache
def _parse(page):
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def test_no_internal_link_is_broken():
    # The pages, not the theme's template fragments or copied files.
    copied = ("_static", "_sources", "_downloads", "_images")
    pages = [
        page
        for page in sorted(SITE.rglob("*.html"))
        if page.relative_to(SITE).parts[0] not in copied
    ]
    assert len(pages) > 40  # the API pages, the user guide and the gallery
    broken = []
    for page in pages:
        for link in _parse(page).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith("mailto:"):
                continue  # external: not checked (no network here)
            target = page if not parts.path else (page.parent / unquote(parts.path))
            target = target.resolve()
            if target.is_dir():
                target = target / "index.html"
            name = f"{page.relative_to(SITE)}: {link}"
            if not target.is_file() or SITE.resolve() not in target.parents:
                broken.append(f"{name} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                if unquote(parts.fragment) not in _parse(target).ids:
                    broken.append(f"{name} (no such anchor)")
    assert not broken, "\n".join(broken)


def test_every_gallery_example_has_its_figures():
    pages = sorted((SITE / "auto_examples").glob("plot_*.html"))
    assert len(pages) >= 8
    for page in pages:
        figure = f"_images/sphx_glr_{page.stem}_0"  # not the thumbnail
        assert any(figure in link for link in _parse(page).links), page.name


# The browser checks.


@pytest.fixture(scope="module")
def site_url():
    """The built site, served on a free port of localhost."""
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is in the docs extra"
    )
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            pytest.skip(f"{path} is absent (Debian: apt-get install chromium-driver)")
    profile = tempfile.mkdtemp(prefix="mgc-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _open(browser, url):
    """Load ``url``; return the text the page shows. Fails on a JS error."""
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(url)
    _wait(
        browser,
        lambda: browser.execute_script("return document.readyState") == "complete",
    )
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, f"{url} logged errors: {errors}"
    return browser.find_element("tag name", "body").text


def _wait(browser, condition, timeout=30):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout).until(lambda _: condition())


def test_the_index_renders(browser, site_url):
    text = _open(browser, site_url + "index.html")
    assert "A scikit-learn classifier for multi-granularity labels" in text
    for section in ("User guide", "Examples", "API reference"):
        assert section in text  # the navigation bar and the links into the site
    assert "MLPClassifier((512, 256))" in text  # the results table


def test_the_estimator_api_page_renders(browser, site_url):
    text = _open(browser, site_url + ESTIMATOR_PAGE)
    assert "class mgclassifier.MultiGranularityClassifier(" in text
    for expected in ("Parameters", "hidden_layer_sizes", "Attributes", "classes_"):
        assert expected in text
    for method in ("fit", "predict", "predict_proba", "choose_threshold"):
        anchor = f"mgclassifier.MultiGranularityClassifier.{method}"
        assert browser.find_elements("id", anchor), method
    assert "Examples using" in text  # sphinx-gallery's back-references


def test_a_gallery_page_renders_with_its_figures(browser, site_url):
    text = _open(browser, site_url + GALLERY_PAGE)
    assert "A first fit: three levels at once" in text
    assert "MultiGranularityClassifier()" in text  # the results table it printed
    images = browser.find_elements("css selector", "img.sphx-glr-single-img")
    assert images
    for image in images:
        width = browser.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", image
        )
        assert width > 0, image.get_attribute("src")


def test_the_search_finds_the_estimator(browser, site_url):
    _open(browser, site_url + "search.html?q=MultiGranularityClassifier")

    def found():
        links = browser.find_elements("css selector", "#search-results a")
        return [a.get_attribute("href") for a in links]

    _wait(browser, lambda: any(ESTIMATOR_PAGE in href for href in found()))
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
