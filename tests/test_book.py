"""Tests of the book build's helpers: table of contents, appendix, generated pages, offline check.

None of these tests runs Jupyter Book; building the whole book is `make book`'s job.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from robustlib.study import book

SOURCE = book.DEFAULT_SOURCE_DIR


def _notebook(cells: list[dict]) -> dict:
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _code_cell(source: str, tags: list[str] | None = None) -> dict:
    metadata = {"tags": tags} if tags else {}
    return {"cell_type": "code", "source": source, "metadata": metadata, "outputs": [], "execution_count": None}


def _make_run(
    runs_dir: Path,
    name: str,
    *,
    method: str | None = None,
    provenance: dict | None = None,
    notebook: bool = True,
) -> Path:
    """Write a run folder: a notebook whose injected parameters name ``method``, and provenance."""
    run = runs_dir / name
    run.mkdir(parents=True)
    if notebook:
        cells = [_code_cell("method = 'ce'", ["parameters"])]
        if method is not None:
            cells.append(_code_cell(f"# Parameters\nmethod = {method!r}\n", ["injected-parameters"]))
        (run / "experiment.ipynb").write_text(json.dumps(_notebook(cells)))
    if provenance is not None:
        (run / "provenance.json").write_text(json.dumps(provenance))
    return run


# ----------------------------------------------------------------------------------------------
# Table of contents


def test_toc_without_runs_has_no_appendix():
    toc = yaml.safe_load(book.render_toc({}))

    captions = [part["caption"] for part in toc["parts"]]
    assert toc["format"] == "jb-book"
    assert toc["root"] == "intro"
    assert book.APPENDIX_CAPTION not in captions


def test_toc_lists_results_page():
    toc = yaml.safe_load(book.render_toc({}))

    files = [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]
    assert "results" in files


def test_toc_appendix_groups_runs():
    appendix = {
        "appendix/methods/ce": ["clinc150-ce-symmetric20-seed0-k1"],
        "appendix/methods/spl": ["run-a", "run-b"],
    }

    toc = yaml.safe_load(book.render_toc(appendix))
    part = toc["parts"][-1]

    assert part["caption"] == book.APPENDIX_CAPTION
    assert [chapter["file"] for chapter in part["chapters"]] == list(appendix)
    assert part["chapters"][1]["sections"] == [
        {"file": "appendix/run-a.ipynb", "title": "run-a"},
        {"file": "appendix/run-b.ipynb", "title": "run-b"},
    ]


def test_toc_static_pages_exist():
    toc = yaml.safe_load(book.render_toc({}))

    def files(entries):
        for entry in entries:
            yield entry["file"]
            yield from files(entry.get("sections", []))

    # results.ipynb is copied in by the build; every other page is part of the source folder.
    pages = [page for part in toc["parts"] for page in files(part["chapters"]) if page != "results"]
    missing = [page for page in [toc["root"], *pages] if not (SOURCE / f"{page}.md").is_file()]
    assert missing == []


# ----------------------------------------------------------------------------------------------
# Book source


def test_config_uses_local_mathjax():
    config = yaml.safe_load((SOURCE / "_config.yml").read_text())

    assert config["sphinx"]["config"]["mathjax_path"] == f"mathjax/{book.MATHJAX_ENTRY}"


def test_config_does_not_execute():
    config = yaml.safe_load((SOURCE / "_config.yml").read_text())

    assert config["execute"]["execute_notebooks"] == "off"


def test_config_drops_thebe():
    config = yaml.safe_load((SOURCE / "_config.yml").read_text())

    assert "sphinx_thebe" not in config["sphinx"]["config"]["extensions"]


def test_cited_keys_exist_in_bibliography():
    bibliography = (SOURCE / "references.bib").read_text(encoding="utf-8")
    defined = set(re.findall(r"^@\w+\{([^,]+),", bibliography, flags=re.MULTILINE))
    cited = set()
    for page in SOURCE.rglob("*.md"):
        for keys in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", page.read_text(encoding="utf-8")):
            cited.update(key.strip() for key in keys.split(","))

    assert cited, "no page cites anything: the citation pattern of this test no longer matches"
    assert cited - defined == set()


# ----------------------------------------------------------------------------------------------
# Runs


def test_method_from_injected_parameters(tmp_path):
    run = _make_run(tmp_path, "r1", method="elr")

    assert book.run_method(run) == "elr"


def test_method_falls_back_to_parameters_cell(tmp_path):
    run = _make_run(tmp_path, "r1")

    # The notebook's own default in its parameters cell is 'ce'.
    assert book.run_method(run) == "ce"


def test_method_from_config_json(tmp_path):
    run = _make_run(tmp_path, "r1", method="elr")
    (run / "config.json").write_text(json.dumps({"method": "jsd"}))

    assert book.run_method(run) == "jsd"


def test_method_from_provenance_first(tmp_path):
    run = _make_run(tmp_path, "r1", method="elr")
    (run / "config.json").write_text(json.dumps({"method": "jsd"}))

    assert book.run_method(run, provenance={"method": "mixup"}) == "mixup"


def test_method_unknown_without_record(tmp_path):
    run = _make_run(tmp_path, "r1", notebook=False, provenance={})

    assert book.run_method(run) == book.UNKNOWN_METHOD


def test_collect_runs_skips_hidden_and_empty(tmp_path):
    _make_run(tmp_path, "b-run", method="spl", provenance={"python": "3.11.9"})
    _make_run(tmp_path, "a-run", method="ce")
    _make_run(tmp_path, ".partial", method="ce")
    (tmp_path / "empty").mkdir()
    (tmp_path / "failures.json").write_text("{}")

    runs = book.collect_runs(tmp_path)

    assert [run.name for run in runs] == ["a-run", "b-run"]
    assert runs[0].provenance == {}
    assert runs[1].provenance == {"python": "3.11.9"}


def test_collect_runs_tolerates_bad_provenance(tmp_path):
    run = _make_run(tmp_path, "r1", method="ce")
    (run / "provenance.json").write_text("[1, 2]")

    (record,) = book.collect_runs(tmp_path)

    assert record.provenance == {}


def test_write_appendix_orders_methods(tmp_path):
    runs_dir = tmp_path / "runs"
    src = tmp_path / "src"
    src.mkdir()
    for name, method in [("r1", "spl"), ("r2", "ce"), ("r3", "zeta"), ("r4", "spl")]:
        _make_run(runs_dir, name, method=method)

    structure = book.write_appendix(src, book.collect_runs(runs_dir))

    # Registered methods in table order (ce before spl), unknown names after them.
    assert list(structure) == ["appendix/methods/ce", "appendix/methods/spl", "appendix/methods/zeta"]
    assert structure["appendix/methods/spl"] == ["r1", "r4"]
    assert (src / "appendix" / "r3.ipynb").is_file()
    assert (src / "appendix" / "methods" / "spl.md").read_text().startswith("# Self-paced learning (SPL)")


def test_write_appendix_empty_without_notebooks(tmp_path):
    _make_run(tmp_path / "runs", "r1", notebook=False, provenance={})

    structure = book.write_appendix(tmp_path, book.collect_runs(tmp_path / "runs"))

    assert structure == {}
    assert not (tmp_path / "appendix").exists()


# ----------------------------------------------------------------------------------------------
# Provenance page


ENVIRONMENT = {
    "python": "3.11.7",
    "platform": "Linux-x86_64",
    "cpu": "Test CPU (2 logical cores)",
    "git_commit": "abc123",
    "package:torch": "2.13.0",
}


def _provenance_text(runs, settings=None) -> str:
    return book.render_provenance(runs, profile="smoke", profile_settings=settings, environment=ENVIRONMENT)


def test_provenance_counts_run_values(tmp_path):
    full = {
        "packages": {"torch": "2.13.0", "pandas": None},
        "cpu": "Fake CPU",
        "cpu_count": 2,
        "dataset": {"name": "clinc150", "checksum": "c0ffee"},
        "realised_noise_rate": {"train": 0.2, "val": 0.2},
    }
    _make_run(tmp_path, "r1", method="ce", provenance=full)
    _make_run(tmp_path, "r2", method="ce", provenance=full)
    _make_run(tmp_path, "r3", method="spl", provenance={})

    text = _provenance_text(book.collect_runs(tmp_path))

    assert "| torch | 2.13.0 (2); not recorded (1) |" in text
    assert "| pandas | not installed (2); not recorded (1) |" in text
    assert "| CPU | Fake CPU (2 logical cores) (2); not recorded (1) |" in text
    assert "| clinc150 | `c0ffee` | 2 |" in text
    assert "| `r1` | ce | train 0.2, val 0.2 |" in text
    assert "| `r3` | spl | not recorded |" in text


def test_provenance_lists_build_machine():
    text = _provenance_text([])

    assert "| Git commit | abc123 |" in text
    assert "| torch | 2.13.0 |" in text
    assert "No experiment runs were found" in text


def test_provenance_flattens_settings():
    settings = {"seeds": [0, 1], "train": {"epochs": 3}, "method_params": {}, "main_rate": 0.2}

    text = _provenance_text([], settings)

    assert "| `seeds` | `[0, 1]` |" in text
    assert "| `train.epochs` | 3 |" in text
    assert "| `method_params` | none set (library defaults) |" in text
    assert "| `main_rate` | 0.2 |" in text


def test_provenance_without_settings():
    text = _provenance_text([], None)

    assert "not given the profile's settings" in text


def test_provenance_escapes_pipes(tmp_path):
    _make_run(tmp_path, "r1", method="ce", provenance={"platform": "a|b"})

    text = _provenance_text(book.collect_runs(tmp_path))

    assert "| Platform | a\\|b (1) |" in text


def test_environment_has_requested_packages():
    environment = book.collect_environment(book.REPO_ROOT)

    for name in book.PROVENANCE_PACKAGES:
        assert f"package:{name}" in environment
    assert environment["python"].startswith("3.")


# ----------------------------------------------------------------------------------------------
# Benchmarks page


def test_benchmarks_missing_names_command(tmp_path):
    text = book.render_benchmarks(tmp_path / "absent")

    assert text.count("make benchmarks") == len(book.BENCHMARKS)


def test_benchmarks_copy_demotes_headings(tmp_path):
    (tmp_path / "methods.md").write_text("# Method timing\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")

    text = book.render_benchmarks(tmp_path)

    assert "### Method timing" in text
    assert "| 1 | 2 |" in text
    # loop.md is still missing, so its section keeps the note.
    assert text.count("make benchmarks") == 1


def test_benchmarks_include_extra_files(tmp_path):
    (tmp_path / "memory.md").write_text("Peak memory: 1 GiB\n")

    text = book.render_benchmarks(tmp_path)

    assert "## memory" in text
    assert "Peak memory: 1 GiB" in text


def test_demote_skips_code_fences():
    markdown = "# Title\n\n```bash\n# a shell comment\n```\n\n## Part\n"

    demoted = book._demote_headings(markdown, levels=2)

    assert demoted == "### Title\n\n```bash\n# a shell comment\n```\n\n#### Part\n"


# ----------------------------------------------------------------------------------------------
# Offline check and MathJax


def test_remote_script_is_found(tmp_path):
    (tmp_path / "page.html").write_text(
        '<script src="https://cdn.example.org/x.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.org/f.css">'
        '<script src="_static/local.js"></script>'
        '<a href="https://example.org/paper">paper</a>'
    )

    found = book.find_remote_assets(tmp_path)

    assert found == [
        "page.html: <script> https://cdn.example.org/x.js",
        "page.html: <link> //fonts.example.org/f.css",
    ]


def test_canonical_link_is_not_a_load(tmp_path):
    (tmp_path / "page.html").write_text('<link rel="canonical" href="https://example.org/page.html">')

    assert book.find_remote_assets(tmp_path) == []


def test_copy_mathjax_copies_parts(tmp_path):
    source = tmp_path / "es5"
    (source / "output" / "chtml" / "fonts").mkdir(parents=True)
    (source / "output" / "chtml" / "fonts" / "f.woff").write_text("font")
    (source / "tex-svg.js").write_text("not needed")
    (source / book.MATHJAX_ENTRY).write_text("entry")
    destination = tmp_path / "_static" / "mathjax"

    entry = book.copy_mathjax(destination, source=source)

    assert entry.read_text() == "entry"
    assert (destination / "output" / "chtml" / "fonts" / "f.woff").is_file()
    assert not (destination / "tex-svg.js").exists()


def test_copy_mathjax_missing_entry_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="django-static-mathjax"):
        book.copy_mathjax(tmp_path / "out", source=tmp_path)


def test_installed_mathjax_has_entry():
    assert (book.mathjax_source() / book.MATHJAX_ENTRY).is_file()


# ----------------------------------------------------------------------------------------------
# Build orchestration, without Jupyter Book


def test_command_is_strict():
    command = book.jupyter_book_command(Path("src"), Path("out"))

    assert command[0] == sys.executable
    assert {"-W", "-n", "--keep-going"} <= set(command)
    assert command[command.index("--path-output") + 1] == "out"


def test_failed_command_raises_with_warnings():
    script = "print('WARNING: undefined label: fig-x'); print('\\n' * 100); raise SystemExit(1)"
    command = [sys.executable, "-c", script]

    with pytest.raises(RuntimeError) as caught:
        book.run_jupyter_book(command)

    assert "exit status 1" in str(caught.value)
    # The warning is far above the last lines and must still be quoted.
    assert "WARNING: undefined label: fig-x" in str(caught.value)


def test_missing_results_removes_old_html(tmp_path):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    old_html = tmp_path / "build" / "_build" / "html"
    old_html.mkdir(parents=True)
    (old_html / "index.html").write_text("old")

    with pytest.raises(FileNotFoundError, match="make results PROFILE=smoke"):
        book.build_book(
            profile="smoke",
            runs_dir=runs_dir,
            book_build=tmp_path / "build",
            results_notebook=tmp_path / "missing.ipynb",
        )
    assert not old_html.exists()


def test_missing_runs_names_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="make grid PROFILE=smoke"):
        book.build_book(
            profile="smoke",
            runs_dir=tmp_path / "absent",
            book_build=tmp_path / "build",
            results_notebook=tmp_path / "results.ipynb",
        )


def test_prepare_source_writes_generated_files(tmp_path):
    runs_dir = tmp_path / "runs"
    _make_run(runs_dir, "r1", method="ce", provenance={"python": "3.11.9"})
    results = tmp_path / "results.ipynb"
    results.write_text(json.dumps(_notebook([])))
    stale = tmp_path / "build" / "src" / "stale.md"
    stale.parent.mkdir(parents=True)
    stale.write_text("left over from an older build")

    src = book.prepare_source(
        profile="smoke",
        runs_dir=runs_dir,
        book_build=tmp_path / "build",
        results_notebook=results,
        source_dir=SOURCE,
        benchmarks_dir=tmp_path / "no-benchmarks",
        profile_settings={"seeds": [0]},
    )

    assert not stale.exists()
    assert (src / "results.ipynb").is_file()
    assert (src / "appendix" / "r1.ipynb").is_file()
    assert (src / "generated" / "provenance.md").is_file()
    assert (src / "generated" / "benchmarks.md").is_file()
    assert (src / "_static" / "mathjax" / book.MATHJAX_ENTRY).is_file()
    assert "appendix/r1.ipynb" in (src / "_toc.yml").read_text()
