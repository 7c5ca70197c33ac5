import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def pytest_collection_modifyitems(session, config, items):
    """The generated-code tests (and the README's numcheck example) run last: they import JAX
    (and PyTorch), whose worker threads make the fork of the SymPy check's child process
    unsafe for the tests after them."""
    items.sort(key=lambda item: item.fspath.basename == "test_codegen.py" or "numcheck" in item.name)
