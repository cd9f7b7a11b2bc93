"""The check page's report button and print stylesheet, in a real browser (Debian's Chromium)."""

from __future__ import annotations

import subprocess

from tests import maps_harness as harness
from tests.test_maps_browser import (DATA, _assert_clean, _check_page, _coal_boiler, _real_browser,  # noqa: F401
                                     chromium, server)


def test_report_button_downloads_the_pdf_report(chromium, server, artifacts, tmp_path):
    with harness.page(chromium) as (tab, watch):
        _check_page(tab, server)
        tab.set_input_files("#ez-file", str(DATA / "samples" / "shihezi_boiler.txt"))
        _coal_boiler(tab)
        with tab.expect_download(timeout=120_000) as download:
            tab.click("#ez-report")
        path = tmp_path / download.value.suggested_filename
        download.value.save_as(path)
        assert path.name == "核查报告.pdf" and path.read_bytes().startswith(b"%PDF")
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
        assert "BLR-02" in text and "石河子市某供热锅炉房项目" in text
        tab.wait_for_function("document.getElementById('ez-status').textContent.indexOf('PDF') >= 0")
        _assert_clean(watch)


def test_check_page_prints_without_the_form(chromium, server, artifacts):
    with harness.page(chromium) as (tab, watch):
        _check_page(tab, server)
        tab.fill("#ez-coords", "86.0413,44.3056")
        _coal_boiler(tab)
        tab.click("#ez-run")
        tab.wait_for_selector("#ez-verdict .ez-verdict-head", timeout=30_000)
        tab.emulate_media(media="print")
        assert tab.is_hidden("#ez-check-panel") and tab.is_visible("#ez-verdict")
        tab.pdf(path=str(artifacts / "check_page_print.pdf"), format="A4", landscape=True, print_background=True)
        _assert_clean(watch)
