"""Security: no shell, no unpickling outside the restricted reader, no path escapes.

The scans read the source of ``msroi/``, ``workflow/`` and the ``Snakefile``: Python files
by syntax tree (so comments and strings do not count), Snakemake files by directive.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msroi.pipeline.inputs import image_ids

from tests.conftest import REPO

PY_FILES = sorted(p for d in ("msroi", "workflow") for p in (REPO / d).rglob("*.py"))
SMK_FILES = sorted([REPO / "Snakefile", *(REPO / "workflow").rglob("*.smk")])
RESTRICTED_UNPICKLERS = (REPO / "msroi" / "saliency" / "torch_pickle.py", REPO / "msroi" / "saliency" / "joblib_arrays.py")


def _dotted(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _calls(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, _dotted(node.func)


def _kw(call: ast.Call, name: str):
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def _where(path, node):
    return f"{path.relative_to(REPO)}:{node.lineno}"


def test_the_scans_see_the_sources():
    assert len(PY_FILES) > 10 and set(RESTRICTED_UNPICKLERS) <= set(PY_FILES)
    assert len(SMK_FILES) >= 3


def test_no_shell_in_python():
    found = []
    shell_calls = {"os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput",
                   "commands.getoutput", "pty.spawn"}
    for path in PY_FILES:
        for call, name in _calls(path):
            if name in shell_calls or name.startswith("os.exec") or name.startswith("os.spawn"):
                found.append(f"{_where(path, call)} {name}")
            shell = _kw(call, "shell")
            if shell is not None and not (isinstance(shell, ast.Constant) and shell.value is False):
                found.append(f"{_where(path, call)} {name}(shell=...)")
    assert not found, found


def test_no_shell_directives_in_the_workflow():
    found = []
    for path in SMK_FILES:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.match(r"^\s*(shell|run)\s*:", code) or re.search(r"\bshell\s*\(", code):
                found.append(f"{path.relative_to(REPO)}:{i}: {line.strip()}")
            if re.search(r"os\.system|os\.popen|subprocess", code):
                found.append(f"{path.relative_to(REPO)}:{i}: {line.strip()}")
    assert not found, f"shell/run directives or subprocesses in the workflow: {found}"


def test_nothing_is_unpickled_outside_the_restricted_reader():
    found = []
    loaders = re.compile(r"^(c?pickle|dill|joblib|torch|cloudpickle|_pickle)\.(load|loads|Unpickler)$|(^|\.)read_pickle$"
                         r"|^(pickle\.)?Unpickler$|^shelve\.open$|^marshal\.loads?$")
    for path in PY_FILES:
        for call, name in _calls(path):
            if loaders.search(name) and path not in RESTRICTED_UNPICKLERS:
                found.append(f"{_where(path, call)} {name}")
            allow = _kw(call, "allow_pickle")
            if allow is not None and not (isinstance(allow, ast.Constant) and allow.value is False):
                found.append(f"{_where(path, call)} {name}(allow_pickle=...)")
            if name.endswith(("np.load", "numpy.load")) and allow is None:
                found.append(f"{_where(path, call)} {name} without allow_pickle=False")
            safe = _kw(call, "safe_mode")
            if safe is not None and not (isinstance(safe, ast.Constant) and safe.value is True):
                found.append(f"{_where(path, call)} {name}(safe_mode=...)")  # Keras would run Lambda code
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and path not in RESTRICTED_UNPICKLERS:
                if any(_dotted(b).endswith("Unpickler") for b in node.bases):
                    found.append(f"{_where(path, node)} class {node.name}")
    assert not found, found


@pytest.mark.parametrize("reader", RESTRICTED_UNPICKLERS, ids=lambda p: p.name)
def test_the_restricted_readers_only_use_their_own_unpickler(reader):
    src = reader.read_text(encoding="utf-8")
    assert "find_class" in src
    names = [name for _, name in _calls(reader)]
    assert not [n for n in names if n in ("pickle.load", "pickle.loads", "pickle.Unpickler")], names


# ------------------------------------------------------------------------ path escapes

HOSTILE_NAMES = [
    "../../etc/passwd.png", "..png", "...png", ".png", "/abs.png", "/etc/cron.d/x.jpg", "a/../../b.png",
    "-rf.png", "~root.png", "$(reboot).png", "a;rm -rf ~.png", "a\nb.png", "a\\..\\b.png", " .png", "é/../ü.png",
    "CON.png", "a:b.png", "*.png", "a.png", "a.jpg", "A.png",
]


def _assert_safe_ids(ids: dict, out_dir: Path):
    for key in ids:
        assert key and key not in (".", "..") and not key.startswith(".")
        assert "/" not in key and "\\" not in key and "\n" not in key and "\0" not in key
        assert re.fullmatch(r"[\w.+-]+", key), key
        target = (out_dir / f"{key}.png").resolve()
        assert target.parent == out_dir.resolve()


def test_image_ids_never_escape_the_output_directory(tmp_path):
    ids = image_ids(HOSTILE_NAMES)
    assert len(ids) == len(HOSTILE_NAMES)  # every input keeps its own id
    assert sorted(map(str, ids.values())) == sorted(HOSTILE_NAMES)
    _assert_safe_ids(ids, tmp_path)
    assert ids["passwd"] == Path("../../etc/passwd.png")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12).filter(lambda s: "\0" not in s), min_size=1, max_size=8))
def test_image_ids_of_any_names_are_safe_and_distinct(tmp_path_factory, names):
    paths = [f"{n}.png" for n in names] + [f"dir/{n}.jpg" for n in names]
    unique = list(dict.fromkeys(Path(p) for p in paths))
    ids = image_ids(unique)
    assert len(ids) == len(unique)
    _assert_safe_ids(ids, Path("/tmp/out"))


def test_map_images_writes_only_inside_out_dir(tmp_path, monkeypatch):
    """Real files with awkward names; the CNN replaced by a constant map (path logic only)."""
    from PIL import Image

    import msroi.saliency.maps as maps

    monkeypatch.setattr(maps, "msroi_map", lambda model, rgb, *a, **k: (np.full(rgb.shape[:2], 0.5, np.float32),
                                                                     [(0, "thing", 1.0)]))
    src = tmp_path / "in" / "sub"
    src.mkdir(parents=True)
    names = ["..png", "...png", ".png", "-rf.png", "$(touch pwned).png", "a;b 'q'.png", "a\nb.png", "~.png"]
    for n in names:
        Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(src / n, format="PNG")
    # reached through '..' components, as a user might type them
    paths = [tmp_path / "in" / "sub" / ".." / "sub" / n for n in names]
    out = tmp_path / "out"
    before = {p for p in tmp_path.rglob("*")}
    status = maps.map_images(paths, out, model=(None, {}), progress=False)
    assert all(s["ok"] for s in status), [s["error"] for s in status]
    written = {p for p in tmp_path.rglob("*")} - before
    assert written and all(out.resolve() in p.resolve().parents or p == out for p in written), written
    assert len([p for p in written if p.is_file()]) == 3 * len(names)
    assert not list(tmp_path.rglob("pwned*"))


@pytest.mark.parametrize("name", ["../escape.png", "sub/../../escape.png"])
def test_workflow_ids_from_directory_listing_are_plain_names(tmp_path, name):
    """What the workflow does: list a directory, then image_ids; no id has a separator."""
    from msroi.files import list_images

    d = tmp_path / "images"
    d.mkdir()
    (d / Path(name).name).write_bytes(b"x")
    ids = image_ids(list_images(d))
    _assert_safe_ids(ids, tmp_path / "results")
