"""`scouts/` never imports `runtime` or `tools` (issue 13, section 1): it is given the read-only tools and the
advice submitter as callables. Checked on the source and on what importing every scouts module loads."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT
from tests.core.test_core_is_pure import _imports

SCOUTS = REPO_ROOT / "scouts"
FORBIDDEN = {"runtime", "tools", "executor"}


def test_no_scouts_module_imports_runtime_or_tools() -> None:
    files = sorted(SCOUTS.rglob("*.py"))
    assert len(files) > 10
    offences = [f"{path.relative_to(REPO_ROOT)}:{line} imports {module}" for path in files
                for line, module in _imports(path) if module.split(".")[0] in FORBIDDEN]
    assert not offences, "\n".join(offences)


def test_importing_every_scouts_module_loads_no_runtime_or_tools() -> None:
    modules = sorted(".".join(p.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
                     for p in SCOUTS.rglob("*.py"))
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules) +
            "print(sorted({n.split('.')[0] for n in sys.modules} & {'runtime', 'tools', 'executor'}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
