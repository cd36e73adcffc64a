"""`scouts/` is handed read-only tools and a `SubmitAdvice` callable; it never imports `runtime` (which holds the
engine, the journal's writer and the exchange), checked on the source and on what importing scouts loads."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO_ROOT
from tests.core.test_core_is_pure import _imports

SCOUTS = REPO_ROOT / "scouts"
FORBIDDEN = {"runtime", "executor", "exchange"}


def test_no_scouts_source_imports_runtime() -> None:
    files = sorted(SCOUTS.rglob("*.py"))
    assert files, "scouts/ has no source to check"
    offences = [f"{path.relative_to(REPO_ROOT)}:{line} imports {module}" for path in files
                for line, module in _imports(path) if module.split(".")[0] in FORBIDDEN]
    assert not offences, "\n".join(offences)


def test_importing_scouts_loads_no_runtime_module() -> None:
    probe = (
        "import sys, importlib, pkgutil, scouts\n"
        "for m in pkgutil.walk_packages(scouts.__path__, 'scouts.'): importlib.import_module(m.name)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    loaded = set(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                                cwd=REPO_ROOT).stdout.split())
    assert any(name.startswith("scouts.") for name in loaded)
    assert not {m for m in loaded if m.split(".")[0] in FORBIDDEN}, sorted(m for m in loaded
                                                                           if m.split(".")[0] in FORBIDDEN)


def test_one_submit_advice_contract() -> None:
    """Scouts, the runtime and the tools share `core.advice.SubmitAdvice`: no module defines a second one."""
    definition = re.compile(r"^(SubmitAdvice\s*[:=]|class SubmitAdvice\b)", re.M)
    sources = [path for top in ("core", "scouts", "runtime", "tools") for path in (REPO_ROOT / top).rglob("*.py")]
    defining = sorted(str(path.relative_to(REPO_ROOT)) for path in sources if definition.search(path.read_text()))
    assert defining == ["core/advice.py"]
