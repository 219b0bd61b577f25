"""Helpers shared by the crawler tests: running the command line as a user does, and small pages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PARAGRAPH = (
    "Researchers at the institute used machine learning models to predict the structure of "
    "new catalysts, cutting the time needed for laboratory screening from months to days. "
)


def run_python_module(module: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGS`` in a subprocess from the project root, output captured."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ai4s(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The ``ai4s`` command line in a subprocess."""
    return run_python_module("crawler", *args, timeout=timeout)


def article_html(title: str) -> str:
    """A small English news article page with navigation around the article."""
    body = "".join(f"<p>{PARAGRAPH} Paragraph {i}.</p>" for i in range(8))
    return (
        f"<!doctype html><html lang='en'><head><title>{title}</title></head><body>"
        f"<nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{body}</article></body></html>"
    )
