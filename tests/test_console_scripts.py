"""`azmlp` is azml's own command in a fresh environment with the azure extra.

azureml-core installs a console script named `azml` (its retired CLI); whichever
package pip installs last owns `bin/azml`. `azmlp` is a name no dependency uses.
scripts/test builds `.venv-fresh` with `pip install '.[azure]'` alone, as a user would.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FRESH = REPO / ".venv-fresh"


def test_azmlp_is_ours_in_a_fresh_venv_with_the_azure_extra() -> None:
    assert (FRESH / "bin" / "azmlp").exists(), (
        f"{FRESH} is missing: scripts/test builds it (pip install '.[azure]' in a new venv)")
    freeze = subprocess.run([str(FRESH / "bin" / "python"), "-m", "pip", "freeze"],
                            capture_output=True, text=True, check=True).stdout
    assert "azureml-core" in freeze  # the package whose own `azml` script competes
    result = subprocess.run([str(FRESH / "bin" / "azmlp"), "--help"], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: azmlp")
    for command in ("validate", "plan", "run", "submit", "status", "logs", "cancel"):
        assert command in result.stdout
