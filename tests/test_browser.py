"""The roadmap explorer in a real JupyterLab, in a real (headless) browser.

Starts JupyterLab on localhost with a temporary copy of the notebook as its root,
opens it in Debian's Chromium driven by Playwright, runs every cell, moves the
explorer to another step and checks that the numbers on the page become that
step's counts (``count_step``: one row of ``count_roadmap``, computed here). Leaves
a screenshot in build/screenshots/ for a person to look at.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from convnext_lesson.model.counting import count_step
from convnext_lesson.model.threads import one_thread
from convnext_lesson.teach.show.receptive_field import KERNEL_STEPS, effective_receptive_field

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
# The notebook the test opens. None: the test writes a small one that shows roadmap_explorer(). Point it
# at a course notebook (e.g. ROOT / "notebooks" / "00_setup_and_tour.ipynb") to test that one: every
# cell runs, and its first roadmap explorer is the one moved.
NOTEBOOK: Path | None = ROOT / "notebooks" / "00_setup_and_tour.ipynb"
SCREENSHOT = ROOT / "build" / "screenshots" / "explorer.png"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
EXPLORER = ".cl-roadmap-explorer"
KERNEL_EXPLORER = ".cl-kernel-explorer"


def own_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Roadmap explorer (written by tests/test_browser.py)"),
                nbformat.v4.new_code_cell('from convnext_lesson.teach.show.explorer import kernel_explorer, '
                                          'roadmap_explorer\n'
                                          'roadmap_explorer("resnet50", step=0)'),
                nbformat.v4.new_code_cell("kernel_explorer(3)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_slider(widget, value: int) -> None:
    """Type a value into an ipywidgets slider's readout and press Enter."""
    readout = widget.locator(".widget-readout")
    readout.fill(str(value))
    readout.press("Enter")


def expected_numbers(index: int) -> dict[str, str]:
    """What the page must show for a step, formatted as the explorer formats it."""
    with one_thread():
        row = count_step(index, "resnet50")
    return {"params": f"{row.params:,}", "gflops_paper": f"{row.gflops_paper_convention:.3f}",
            "gflops_fvcore": f"{row.gflops_fvcore:.3f}", "paper_top1": f"{row.paper_top1:.2f}%"}


def start_lab(root_dir: Path, home: Path) -> tuple[subprocess.Popen, str]:
    """JupyterLab on a free localhost port, with its own config, data, runtime and settings dirs."""
    settings = home / "lab-settings"
    popup = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    popup.parent.mkdir(parents=True)
    popup.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8")  # the news pop-up
    env = dict(os.environ,
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), IPYTHONDIR=str(home / "ipython"),
               # the kernel runs this checkout's package, with this interpreter
               CONVNEXT_LESSON_PROFILE="smoke", CONVNEXT_LESSON_RUNS=str(home / "runs"),  # the notebook's data cells: tiny sample
               PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    port = free_port()
    log = open(home / "jupyter.log", "w", encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.port_retries=0", "--IdentityProvider.token=", "--ServerApp.password=",
         f"--ServerApp.root_dir={root_dir}", "--LabApp.extension_manager=readonly",
         "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited ({server.returncode}): {(home / 'jupyter.log').read_text(encoding='utf-8')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2):
                return server, url
        except OSError:
            time.sleep(0.3)
    stop(server)
    raise RuntimeError("JupyterLab did not answer /api/status within 60 s")


def stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)  # exits 0 and shuts the kernel down
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def test_explorer_updates_in_jupyterlab(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (CI installs Debian's chromium; never `playwright install`)")
    from playwright.sync_api import expect, sync_playwright

    started = time.monotonic()
    root_dir = tmp_path / "root"  # JupyterLab autosaves: never let it write into the repo
    if NOTEBOOK is None:
        root_dir.mkdir()
        notebook = root_dir / "explorer.ipynb"
        own_notebook(notebook)
    else:
        shutil.copytree(NOTEBOOK.parent, root_dir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        notebook = root_dir / NOTEBOOK.name
    server, url = start_lab(root_dir, tmp_path)
    phases = {"lab started": time.monotonic() - started}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(f"{url}/lab/tree/{notebook.relative_to(root_dir).as_posix()}")
            # "Idle" in the notebook toolbar can come before the kernel connects; the status bar's can't
            expect(page.locator("#jp-main-statusbar")).to_contain_text(re.compile(r"\|\s*Idle"), timeout=60_000)
            phases["kernel idle"] = time.monotonic() - started
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")

            explorer = page.locator(EXPLORER).first
            params = explorer.locator(".cl-params")
            expect(params).to_be_visible(timeout=90_000)
            first = int(explorer.locator(".cl-step-slider .widget-readout").inner_text())
            target = 9 if first != 9 else 16
            before, after = expected_numbers(first), expected_numbers(target)
            assert before["params"] != after["params"]
            expect(params).to_have_text(before["params"], timeout=30_000)
            picture_before = explorer.locator(".cl-step-picture").get_attribute("src")
            phases["explorer shown"] = time.monotonic() - started

            set_slider(explorer.locator(".cl-step-slider"), target)

            expect(params).to_have_text(after["params"], timeout=60_000)
            phases["step changed"] = time.monotonic() - started
            expect(explorer.locator(".cl-gflops-paper")).to_have_text(after["gflops_paper"])
            expect(explorer.locator(".cl-gflops-fvcore")).to_have_text(after["gflops_fvcore"])
            expect(explorer.locator(".cl-paper-top1")).to_have_text(after["paper_top1"])
            expect(explorer.locator(".cl-step-name")).to_contain_text(f"{target}: ")
            expect(explorer.locator(".cl-difference")).to_contain_text("difference from step")
            assert explorer.locator(".cl-step-picture").get_attribute("src") != picture_before

            shot = tmp_path / "explorer.png"
            explorer.screenshot(path=str(shot))
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, SCREENSHOT)

            kernels = page.locator(KERNEL_EXPLORER)
            if NOTEBOOK is None or kernels.count():  # our notebook has one; a course notebook may not
                kernel = kernels.first
                set_slider(kernel.locator(".cl-kernel-slider"), 11)
                side = 2 * effective_receptive_field(11).radius(0.9) + 1
                expect(kernel.locator(".cl-erf-90")).to_have_text(f"{side} px", timeout=60_000)
                expect(kernel.locator(".cl-gflops-paper")).to_have_text(
                    expected_numbers(KERNEL_STEPS[11])["gflops_paper"])
                kernel.screenshot(path=str(SCREENSHOT.with_name("kernel_explorer.png")))
            browser.close()
    finally:
        stop(server)
    print(f"browser test: step {first} -> {target} checked; seconds since start: "
          + ", ".join(f"{name} {t:.1f}" for name, t in phases.items())
          + f", done {time.monotonic() - started:.1f}; screenshot {SCREENSHOT}")
