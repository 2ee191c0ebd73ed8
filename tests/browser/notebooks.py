"""Notebooks in real JupyterLab for browser tests: write one, open it, run its first cell."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect


def notebook(cells: list[str]) -> dict:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                   "outputs": [], "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip


def open_and_run(platform, lab, user: str, name: str, cells: list[str]) -> Page:
    """Write ``name`` in ``user``'s home, open it in Lab and run its first cell (magics load
    by themselves in every kernel)."""
    home = platform.home / "users" / user
    home.mkdir(parents=True, exist_ok=True)
    (home / name).write_text(json.dumps(notebook(cells)))
    page = lab(user)
    page.goto(f"{platform.url}/user/{user}/lab/tree/{name}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    # The kernel must be connected and idle, or the run request is dropped on a busy machine.
    expect(page.locator(".jp-StatusBar-Widget", has_text="| Idle").first).to_be_visible(
        timeout=90_000
    )
    prompt = page.locator(".jp-Cell .jp-InputPrompt").first
    for _ in range(3):
        page.locator(".jp-Cell .jp-InputArea-editor").first.click()
        page.keyboard.press("Shift+Enter")
        try:
            expect(prompt).not_to_have_text("[ ]:", timeout=10_000)
            break
        except AssertionError:
            continue
    return page
