"""Where the templates and static files are, installed or in the source tree."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


def folder(name: str) -> Path:
    """The folder of ``templates`` or ``static``: inside the installed package, else beside app/."""
    try:
        path = Path(str(resources.files(f"app.{name}")))
        if path.is_dir():
            return path
    except (ModuleNotFoundError, TypeError):
        pass
    return _ROOT / name
