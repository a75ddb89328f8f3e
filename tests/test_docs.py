"""Docs that cannot go stale: README.md and docs/*.md run as written, and README's generated parts are current.

Every ```python block of README.md and docs/*.md is run in a fresh interpreter, in a temporary
folder, with the repository root on sys.path (for `tests.*` and `models.*` imports) and
matplotlib's Agg backend. The blocks of one `##` section run in order in ONE interpreter: a
block may build on the earlier blocks of its section (the docs say so where one does), never
on another section's. A block that needs PyTorch says so in a comment ("needs PyTorch"); its
section is skipped, with the reason, where torch is not installed. The blocks need the test and
examples extras (and the interop extra for the interop section).

Also: README's lessons table and Speed paragraph are what docs/build_readme.py writes from
docs/metrics/*.json and BENCHMARKS.md; every lesson in examples/ and every notebook in
examples/learn/ is in README; every extra of pyproject.toml is named in its set-up; the set-up
commands are the ones .ci/run runs.
"""
import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def sections(path: Path):
    """[(section title, [(line number, block source)])] for the ```python blocks, by `##` heading."""
    text = path.read_text()
    found = {}
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 2          # the block's first line
        heads = re.findall(r"^## (.+)$", text[:match.start()], flags=re.M)
        title = heads[-1].strip() if heads else "(top)"
        found.setdefault(title, []).append((line, match.group(1)))
    return list(found.items())


CASES = [(path, title, blocks) for path in DOCS for title, blocks in sections(path)]

RUNNER = r"""
import json, sys, traceback
try:                     # hypothesis examples in the docs: the suite's lenience about slow draws
    from hypothesis import HealthCheck, settings
    settings.register_profile("docs", deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("docs")
except ImportError:
    pass
blocks = json.loads(sys.stdin.read())
namespace = {"__name__": "__main__"}
for where, source in blocks:
    try:
        exec(compile(source, where, "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        print(f"DOCS BLOCK FAILED: {where}", file=sys.stderr)
        sys.exit(1)
"""


def test_the_docs_have_python_blocks():
    assert len(CASES) >= 5, [(p.name, t) for p, t, _ in CASES]


@pytest.mark.parametrize("path, title, blocks", CASES,
                         ids=[f"{p.name}:{t}" for p, t, _ in CASES])
def test_every_python_block_runs_as_written(path, title, blocks, tmp_path):
    if any("needs PyTorch" in source for _, source in blocks) and importlib.util.find_spec("torch") is None:
        pytest.skip(f"{path.name}, section {title!r}: a block needs PyTorch, which is not installed")
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(
        [str(REPO)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    payload = json.dumps([(f"{path.name}:{line}", source) for line, source in blocks])
    done = subprocess.run([sys.executable, "-c", RUNNER], input=payload, capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, (f"{path.name}, section {title!r}: a ```python block fails as written\n"
                                  f"{done.stderr[-4000:]}")


# ----------------------------------------------------------------------------- README's generated parts

def _build_readme():
    spec = importlib.util.spec_from_file_location("build_readme", REPO / "docs" / "build_readme.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_readme_generated_parts_match_the_metrics_and_benchmarks():
    build = _build_readme()
    current = (REPO / "README.md").read_text()
    assert build.render(current) == current, (
        "README.md's lessons table or Speed paragraph disagrees with docs/metrics/*.json / BENCHMARKS.md: "
        "run python docs/build_readme.py")


def test_lesson_rows_with_a_metrics_file_show_its_numbers(tmp_path, monkeypatch):
    """A row with a metrics file is rendered from it (numbers and time); without one, it says so."""
    build = _build_readme()
    lesson = build.Lesson("demo", "what it shows.", "loss **{loss[1]:.2f}**, {nested[key]} units")
    monkeypatch.setattr(build, "METRICS", tmp_path)
    assert "*(no docs/metrics/demo.json yet)* | — |" in build.lesson_row(lesson)
    (tmp_path / "demo.json").write_text(json.dumps({"loss": [3.0, 0.125], "nested": {"key": 7},
                                                    "seconds": 150.0}))
    assert build.lesson_row(lesson) == "| `python examples/demo.py` | what it shows. Loss **0.12**, 7 units | 2.5 min |"
    (tmp_path / "demo.json").write_text(json.dumps({"loss": [3.0, 0.5], "nested": {"key": 1}, "seconds": 40,
                                                    "command": "notebook with iterations=200", "load": 4.25}))
    assert build.lesson_row(lesson).endswith(
        "Loss **0.50**, 1 units *(measured on a shorter run: iterations=200)* | 40 s (load 4.2) |")
    (tmp_path / "demo.json").write_text(json.dumps({"loss": [1.0, 2.0], "seconds": 3}))
    with pytest.raises(ValueError, match="the numbers of python examples/demo.py need KeyError: 'nested'"):
        build.lesson_row(lesson)


def test_every_existing_metrics_file_belongs_to_a_row():
    build = _build_readme()
    known = {lesson.metrics_file.name for lesson in build.LESSONS}
    present = {p.name for p in (REPO / "docs" / "metrics").glob("*.json")}
    assert not present - known, f"docs/metrics files no README row reads: {sorted(present - known)}"


def test_readme_lists_every_lesson_and_every_learn_notebook():
    readme = (REPO / "README.md").read_text()
    # a lesson is an examples/*.py with a parameters cell (examples/common.py's convention);
    # common.py, build_notebooks.py, vae_training.py are shared code
    lessons = [p.stem for p in (REPO / "examples").glob("*.py")
               if '# %% tags=["parameters"]' in p.read_text(encoding="utf-8").splitlines()]
    assert len(lessons) >= 15, lessons
    missing = [name for name in lessons if f"examples/{name}.py" not in readme]
    assert not missing, f"lessons that README does not list: {missing}"
    notebooks = [p.stem for p in (REPO / "examples" / "learn").glob("[0-9][0-9]_*.py")]
    missing = [name for name in notebooks if f"examples/learn/{name}.ipynb" not in readme]
    assert not missing, f"learner's notebooks that README does not list: {missing}"


def test_readme_setup_names_every_extra_the_virtualenv_and_the_data_folder():
    readme = (REPO / "README.md").read_text()
    setup = readme[readme.index("## Set-up"):readme.index("\n## ", readme.index("## Set-up") + 1)]
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    missing = [name for name in extras if f"`{name}`" not in setup]
    assert not missing, f"extras of pyproject.toml that README's set-up does not name: {missing}"
    assert "python3 -m venv" in setup and "activate" in setup
    assert "$MINIGRAD_DATA" in setup and "~/.cache/minigrad" in setup


def test_readme_setup_commands_are_what_ci_runs():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text().replace("pip install --quiet ", "pip install ")
    command = 'python -m pip install -e ".[test,examples]" && python -m pytest -n auto'
    assert command in ci, ".ci/run no longer runs the README's test command: update both together"
    assert command in readme
