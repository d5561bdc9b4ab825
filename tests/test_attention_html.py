"""The attention viewer in a real headless browser: Debian's chromium + chromium-driver driven
by selenium. The page loads without console errors, the layer selector changes what is drawn,
hovering a token leaves only its lines, the model view opens a head, the neuron view's
softmax of q·k/√d equals the model's attention, and a screenshot is saved.

Skipped, with the reason, where selenium, Chromium or its driver is missing (CI installs
them: ``.ci/run``).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from tiny_runs import tiny_config, write_vocab

from attention_lab.interpret.viewer import write_attention_viewer
from attention_lab.models.bert import BertModel
from attention_lab.tokenization import BertTokenizer
from attention_lab.viz.attention import attention_maps

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (pip install selenium)"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if CHROMIUM is None or DRIVER is None:
    pytest.skip(
        "Chromium or chromedriver not found (Debian: apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def maps(tmp_path_factory):
    tokenizer = BertTokenizer.from_pretrained(write_vocab(tmp_path_factory.mktemp("vocab")))
    bert = BertModel(tiny_config())
    bert.build()
    return attention_maps(
        bert, tokenizer, "The movie was not very good", max_len=16, queries_and_keys=True
    )


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1100,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def _opacities(driver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#head-svg line.attn')]"
        ".map(l => l.getAttribute('stroke-opacity'))"
    )


def test_viewer_in_chromium(maps, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    page = write_attention_viewer(maps, tmp_path / "viewer.html", title="tiny BERT <test>")
    browser.get(page.resolve().as_uri())
    svg = browser.find_element(By.ID, "head-svg")
    assert svg.get_attribute("data-layer") == "0"
    assert browser.title == "tiny BERT <test>"
    n, layers, heads = len(maps.tokens), maps.num_layers, maps.num_heads
    assert len(browser.find_elements(By.CSS_SELECTOR, "#head-svg text.token.left")) == n
    half = maps.weights.astype(np.float16).astype(np.float32)  # what the page holds
    drawn = int((half[0] >= 0.01).sum())
    assert len(browser.find_elements(By.CSS_SELECTOR, "#head-svg line.attn")) == drawn
    layer_0 = _opacities(browser)

    Select(browser.find_element(By.ID, "layer-select")).select_by_value("1")
    assert svg.get_attribute("data-layer") == "1"
    layer_1 = _opacities(browser)
    assert layer_1 != layer_0
    expected = np.sort(half[1][half[1] >= 0.01])
    np.testing.assert_allclose(np.sort(np.asarray(layer_1, float)), expected, atol=6e-4)

    token = browser.find_elements(By.CSS_SELECTOR, "#head-svg text.token.left")[3]
    ActionChains(browser).move_to_element(token).perform()
    shown = browser.execute_script(
        "return [...document.querySelectorAll('#head-svg line.attn:not(.dim)')]"
        ".map(l => l.getAttribute('data-q'))"
    )
    assert shown and set(shown) == {"3"}
    assert len(browser.find_elements(By.CSS_SELECTOR, "#head-svg line.attn.dim")) > 0
    assert len(browser.find_elements(By.CSS_SELECTOR, "#head-svg rect.share")) == n
    screenshot = tmp_path / "viewer.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    browser.find_element(By.CSS_SELECTOR, 'nav button[data-view="model"]').click()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#model-grid canvas")) == layers * heads
    browser.find_element(
        By.CSS_SELECTOR, '#model-grid figure[data-layer="1"][data-head="0"]'
    ).click()
    assert browser.find_element(By.ID, "head-view").is_displayed()
    assert svg.get_attribute("data-layer") == "1"
    on = browser.find_elements(By.CSS_SELECTOR, "#head-boxes .head-box:not(.off)")
    assert [box.get_attribute("data-head") for box in on] == ["0"]

    browser.find_element(By.CSS_SELECTOR, 'nav button[data-view="neuron"]').click()
    Select(browser.find_element(By.ID, "neuron-layer")).select_by_value("1")
    browser.find_elements(By.CSS_SELECTOR, "#query-list span")[2].click()
    rows = browser.find_elements(By.CSS_SELECTOR, "#neuron-table tbody tr")
    assert len(rows) == n
    softmax = [float(r.find_element(By.CSS_SELECTOR, "td.softmax").text) for r in rows]
    stored = [float(r.find_element(By.CSS_SELECTOR, "td.stored").text) for r in rows]
    np.testing.assert_allclose(softmax, maps.weights[1, 0, 2], atol=2e-3)
    np.testing.assert_allclose(stored, maps.weights[1, 0, 2], atol=2e-3)

    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
