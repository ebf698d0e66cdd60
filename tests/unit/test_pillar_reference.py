"""docs/pillar-reference.md is what bin/pillar-reference prints from the schema
in _modules/inventory.py: a schema change without the regenerated file fails."""

import importlib.machinery
import importlib.util
import subprocess
import sys

from tests.conftest import REPO

GENERATOR = REPO / "bin" / "pillar-reference"
REFERENCE = REPO / "docs" / "pillar-reference.md"
HOW = "run bin/pillar-reference > docs/pillar-reference.md"


def load_generator():
    loader = importlib.machinery.SourceFileLoader("twin_cloud_pillar_reference", str(GENERATOR))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_the_committed_reference_is_the_generator_output():
    wanted = load_generator().render()
    current = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else None
    assert current == wanted, f"docs/pillar-reference.md is out of date: {HOW}"


def test_the_script_prints_the_same_text():
    result = subprocess.run([sys.executable, str(GENERATOR)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == load_generator().render()


def test_every_schema_key_is_a_row_with_its_kind_and_default():
    text = load_generator().render()
    assert "| `site:nodes:<name>:bmc:port` | whole number, 1..65535 | no | `623` |" in text
    assert "| `site:nodes:<name>:disks:swift[]:device` | absolute path | no | - |" in text
    assert "| `site:quorum:mode` | text | yes | - | one of witness, two_node |" in text
    assert "(`_check_fencing`)" in text
