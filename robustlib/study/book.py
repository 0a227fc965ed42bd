"""Build the study's Jupyter Book from the source pages, the executed notebooks and generated pages.

The book's static pages live in ``book/`` at the repository root. A build copies them into
``<book_build>/src/`` and adds the executed results notebook and every executed experiment
notebook (the appendix, grouped by method). It then generates the table of contents and the
provenance and benchmark pages, and copies the MathJax files. Finally it runs Jupyter Book 1.x
offline with warnings as errors, which writes the HTML into ``<book_build>/_build/html/``.
"""

from __future__ import annotations

import ast
import collections
import html.parser
import importlib.metadata
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SOURCE_DIR = REPO_ROOT / "book"
DEFAULT_BENCHMARKS_DIR = REPO_ROOT / "benchmarks" / "results"

# The static chapters, in reading order. The results notebook and the appendix are added by the build.
STATIC_PARTS: tuple[dict[str, Any], ...] = (
    {
        "caption": "The study",
        "chapters": [
            {"file": "setup"},
            {
                "file": "methods/index",
                "sections": [
                    {"file": "methods/selection"},
                    {"file": "methods/regularisation"},
                    {"file": "methods/losses"},
                    {"file": "methods/mixup"},
                ],
            },
            {"file": "results", "title": "Results"},
        ],
    },
    {
        "caption": "Reproducibility",
        "chapters": [
            {"file": "reproducibility"},
            {"file": "benchmarks"},
            {"file": "references"},
        ],
    },
)
ROOT_PAGE = "intro"
APPENDIX_CAPTION = "Appendix: experiment runs"

# Display names of the methods' registry names, in the order the book lists them.
METHOD_TITLES: dict[str, str] = {
    "ce": "Cross-entropy (baseline)",
    "spl": "Self-paced learning (SPL)",
    "prl": "PRL-L",
    "cce": "Clipped cross-entropy (CCE)",
    "elr": "Early-learning regularisation (ELR)",
    "jsd": "Jensen-Shannon divergence loss (JSD)",
    "coteaching": "Co-teaching",
    "mixup": "Mixup",
}
UNKNOWN_METHOD = "other"

# Benchmark result files that `make benchmarks` writes, with the section title of each.
BENCHMARKS: dict[str, str] = {
    "methods": "Training step per method",
    "loop": "Training loop",
}

PROVENANCE_PACKAGES = ("torch", "numpy", "pandas", "transformers", "jupyter-book", "papermill")

# MathJax 3 as shipped by the django-static-mathjax wheel. The entry script finds its fonts and
# the components it loads on demand (menu, accessibility, TeX extensions) relative to itself.
MATHJAX_ENTRY = "tex-chtml.js"
MATHJAX_PARTS = (MATHJAX_ENTRY, "output/chtml", "input/tex", "ui", "a11y", "sre")

# How many lines of Jupyter Book's output a build failure quotes.
FAILURE_TAIL_LINES = 60
# Sphinx colours its output even when it does not write to a terminal, so the log strips the codes.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
WARNING_LINE = re.compile(r"\b(WARNING|ERROR|CRITICAL|SEVERE)\b|Traceback \(most recent call last\)")


@dataclass
class RunRecord:
    """One experiment run found in the runs folder.

    Attributes:
        name: The run's folder name, also the appendix notebook's file name.
        method: The method's registry name, or ``"other"`` when the run does not record it.
        notebook: The executed experiment notebook, or None when the run has none.
        provenance: The run's ``provenance.json``, or an empty dict when it is missing or invalid.
    """

    name: str
    method: str
    notebook: Path | None
    provenance: dict[str, Any] = field(default_factory=dict)


def build_book(
    *,
    profile: str,
    runs_dir: Path,
    book_build: Path,
    results_notebook: Path,
    source_dir: Path = DEFAULT_SOURCE_DIR,
    benchmarks_dir: Path = DEFAULT_BENCHMARKS_DIR,
    profile_settings: dict[str, Any] | None = None,
) -> Path:
    """Assemble the book's source folder and build its HTML offline, with warnings as errors.

    The source is rebuilt from scratch in ``book_build/src``. Jupyter Book writes into a
    temporary folder that replaces ``book_build/_build`` only when the build succeeds. When any
    step fails, the previous ``book_build/_build`` is removed as well, so no HTML from an older
    build can be mistaken for the current one.

    Args:
        profile: Name of the study profile (``"default"``, ``"smoke"``), shown on the
            reproducibility page.
        runs_dir: Folder with one subfolder per experiment run, each holding
            ``experiment.ipynb`` (executed) and ``provenance.json``.
        book_build: Folder of this profile's book build; created if missing.
        results_notebook: The executed results notebook; it becomes the results page.
        source_dir: The book's static pages (``_config.yml``, MyST pages, ``references.bib``).
        benchmarks_dir: Folder of the benchmark result files (``methods.md``, ``loop.md``).
        profile_settings: The profile's settings, shown as a table; None shows a note instead.

    Returns:
        Path of the built ``index.html``.

    Raises:
        FileNotFoundError: ``source_dir``, ``runs_dir``, ``results_notebook`` or the MathJax
            files are missing.
        RuntimeError: Jupyter Book failed (the message quotes the end of its output) or the
            HTML loads a script or style sheet from the network.
    """
    book_build = Path(book_build)
    html_dir = book_build / "_build" / "html"
    try:
        src = prepare_source(
            profile=profile,
            runs_dir=Path(runs_dir),
            book_build=book_build,
            results_notebook=Path(results_notebook),
            source_dir=Path(source_dir),
            benchmarks_dir=Path(benchmarks_dir),
            profile_settings=profile_settings,
        )
        _build_and_swap(src, book_build)
        remote = find_remote_assets(html_dir)
        if remote:
            raise RuntimeError(
                f"the built book loads {len(remote)} file(s) from the network, so it cannot be read "
                f"offline: {remote[:5]}; disable the extension or theme option that adds them in "
                f"{Path(source_dir) / '_config.yml'}"
            )
    except BaseException:
        _remove_tree(book_build / "_build", reason="the book build failed")
        raise

    index = html_dir / "index.html"
    logger.info("book for profile %r built: %s", profile, index)
    return index


def prepare_source(
    *,
    profile: str,
    runs_dir: Path,
    book_build: Path,
    results_notebook: Path,
    source_dir: Path,
    benchmarks_dir: Path,
    profile_settings: dict[str, Any] | None,
) -> Path:
    """Write the complete book source into ``book_build/src`` and return that folder.

    Arguments are those of `build_book`.
    """
    if not (source_dir / "_config.yml").is_file():
        raise FileNotFoundError(
            f"book source not found: {source_dir} has no _config.yml; pass the folder of the "
            f"book's pages as source_dir"
        )
    if not runs_dir.is_dir():
        raise FileNotFoundError(
            f"runs folder not found: {runs_dir}; run the experiment grid first "
            f"(make grid PROFILE={profile})"
        )
    if not results_notebook.is_file():
        raise FileNotFoundError(
            f"results notebook not found: {results_notebook}; run the results step first "
            f"(make results PROFILE={profile})"
        )

    src = book_build / "src"
    _remove_tree(src, reason="the book source is rebuilt from scratch")
    book_build.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        source_dir,
        src,
        ignore=shutil.ignore_patterns("_build", "generated", "mathjax", ".ipynb_checkpoints", "__pycache__"),
    )
    shutil.copy2(results_notebook, src / "results.ipynb")

    runs = collect_runs(runs_dir)
    appendix = write_appendix(src, runs)
    (src / "_toc.yml").write_text(render_toc(appendix), encoding="utf-8")

    generated = src / "generated"
    generated.mkdir()
    environment = collect_environment(REPO_ROOT)
    provenance = render_provenance(
        runs, profile=profile, profile_settings=profile_settings, environment=environment
    )
    (generated / "provenance.md").write_text(provenance, encoding="utf-8")
    (generated / "benchmarks.md").write_text(render_benchmarks(benchmarks_dir), encoding="utf-8")

    copy_mathjax(src / "_static" / "mathjax")
    logger.info("book source written to %s (%d runs in the appendix)", src, len(runs))
    return src


# ----------------------------------------------------------------------------------------------
# Runs and the appendix


def collect_runs(runs_dir: Path) -> list[RunRecord]:
    """Read every run folder of ``runs_dir``, sorted by name.

    A folder counts as a run when it contains ``experiment.ipynb`` or ``provenance.json``. A
    missing or unreadable ``provenance.json`` gives an empty provenance and a warning.
    """
    runs = []
    # Hidden folders hold the grid's unfinished runs.
    folders = (path for path in Path(runs_dir).iterdir() if path.is_dir() and not path.name.startswith("."))
    for run_dir in sorted(folders):
        notebook = run_dir / "experiment.ipynb"
        provenance_path = run_dir / "provenance.json"
        if not notebook.is_file() and not provenance_path.is_file():
            continue

        provenance = _read_json(provenance_path)
        runs.append(
            RunRecord(
                name=run_dir.name,
                method=run_method(run_dir, provenance=provenance),
                notebook=notebook if notebook.is_file() else None,
                provenance=provenance,
            )
        )
        if not notebook.is_file():
            logger.warning("run %s has no experiment.ipynb; it is left out of the appendix", run_dir)
    return runs


def run_method(run_dir: Path, *, provenance: dict[str, Any] | None = None) -> str:
    """Find the registry name of the method a run trained with.

    Looks, in order, at ``provenance["method"]``, ``provenance["config"]["method"]``, the
    ``method`` key of ``config.json`` in the run folder, and the assignment ``method = "..."``
    in the notebook's papermill-injected or ``parameters`` cell. Returns ``"other"`` when none
    of them names a method.
    """
    provenance = provenance or {}
    candidates = [provenance.get("method")]
    if isinstance(provenance.get("config"), dict):
        candidates.append(provenance["config"].get("method"))
    config = _read_json(run_dir / "config.json", warn=False)
    candidates.append(config.get("method"))
    candidates.append(_notebook_parameter(run_dir / "experiment.ipynb", "method"))

    for candidate in candidates:
        if isinstance(candidate, str) and candidate:
            return candidate
    return UNKNOWN_METHOD


def _notebook_parameter(notebook: Path, name: str) -> Any:
    """Return the literal value assigned to ``name`` in a notebook's parameter cells, or None.

    Papermill puts the values of a run in a cell tagged ``injected-parameters`` after the
    notebook's own ``parameters`` cell, so that cell takes precedence.
    """
    if not notebook.is_file():
        return None
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError) as error:
        logger.warning("failed to read notebook %s: %s", notebook, error)
        return None

    for tag in ("injected-parameters", "parameters"):
        for cell in cells:
            if cell.get("cell_type") != "code" or tag not in cell.get("metadata", {}).get("tags", []):
                continue
            value = _assigned_literal("".join(cell.get("source", "")), name)
            if value is not None:
                return value
    return None


def _assigned_literal(code: str, name: str) -> Any:
    """Return the last literal assigned to ``name`` at the top level of ``code``, or None."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None

    value = None
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, expression = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, expression = [node.target], node.value
        else:
            continue
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            try:
                value = ast.literal_eval(expression)
            except ValueError:
                value = None
    return value


def method_title(method: str) -> str:
    """Return the display name of a method's registry name (the name itself when unknown)."""
    if method == UNKNOWN_METHOD:
        return "Runs without a recorded method"
    return METHOD_TITLES.get(method, method)


def write_appendix(src: Path, runs: list[RunRecord]) -> dict[str, list[str]]:
    """Copy the runs' notebooks into ``src/appendix`` and write one overview page per method.

    Returns:
        The appendix's structure: for each method's overview page (a path relative to ``src``
        without suffix), the appendix notebooks' names in run order. Methods appear in the order
        of `METHOD_TITLES`, then unknown methods alphabetically. Empty when no run has a notebook.
    """
    groups: dict[str, list[RunRecord]] = collections.defaultdict(list)
    for run in runs:
        if run.notebook is not None:
            groups[run.method].append(run)
    if not groups:
        logger.warning("no executed experiment notebooks found; the book has no appendix")
        return {}

    appendix = src / "appendix"
    (appendix / "methods").mkdir(parents=True)
    structure: dict[str, list[str]] = {}
    for method in sorted(groups, key=_method_sort_key):
        page = f"appendix/methods/{_slug(method)}"
        names = []
        for run in groups[method]:
            shutil.copy2(run.notebook, appendix / f"{run.name}.ipynb")
            names.append(run.name)
        (src / f"{page}.md").write_text(render_method_page(method, groups[method]), encoding="utf-8")
        structure[page] = names
    return structure


def render_method_page(method: str, runs: list[RunRecord]) -> str:
    """Return the MyST page that introduces one method's runs in the appendix."""
    count = f"{len(runs)} run" if len(runs) == 1 else f"{len(runs)} runs"
    return (
        f"# {method_title(method)}\n\n"
        f"The executed experiment notebooks of the method `{method}` ({count}). Each notebook "
        f"shows the run's configuration, its training curves and its final metrics.\n\n"
        "```{tableofcontents}\n```\n"
    )


def render_toc(appendix: dict[str, list[str]]) -> str:
    """Return the ``_toc.yml`` text: the static chapters, then the appendix when there is one.

    Args:
        appendix: As returned by `write_appendix`.
    """
    parts = [dict(part) for part in STATIC_PARTS]
    if appendix:
        chapters = []
        for page, names in appendix.items():
            # The suffix keeps a dot in a run name (a noise rate such as 0.2) from being read as one.
            sections = [{"file": f"appendix/{name}.ipynb", "title": name} for name in names]
            chapters.append({"file": page, "sections": sections})
        parts.append({"caption": APPENDIX_CAPTION, "chapters": chapters})

    toc = {"format": "jb-book", "root": ROOT_PAGE, "parts": parts}
    header = "# Generated by robustlib.study.book when the book is built; edit STATIC_PARTS there.\n"
    return header + yaml.safe_dump(toc, sort_keys=False, allow_unicode=True)


def _method_sort_key(method: str) -> tuple[int, str]:
    order = list(METHOD_TITLES)
    if method in order:
        return (order.index(method), method)
    return (len(order) + (method == UNKNOWN_METHOD), method)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "method"


# ----------------------------------------------------------------------------------------------
# Provenance


def collect_environment(repo_root: Path) -> dict[str, str]:
    """Describe the machine and software that build the book.

    Returns:
        Keys ``python``, ``platform``, ``cpu`` (model and logical core count), ``git_commit``
        and one ``package:<name>`` key per name in `PROVENANCE_PACKAGES`.
    """
    environment = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": f"{_cpu_model()} ({os.cpu_count() or 'unknown number of'} logical cores)",
        "git_commit": _git_commit(repo_root),
    }
    for name in PROVENANCE_PACKAGES:
        try:
            environment[f"package:{name}"] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            environment[f"package:{name}"] = "not installed"
    return environment


def render_provenance(
    runs: list[RunRecord],
    *,
    profile: str,
    profile_settings: dict[str, Any] | None,
    environment: dict[str, str],
) -> str:
    """Return the Markdown of the generated provenance section of the reproducibility page.

    Args:
        runs: The runs, as returned by `collect_runs`. Missing provenance keys are reported as
            "not recorded".
        profile: The profile's name.
        profile_settings: The profile's settings, one table row per key (nested values as JSON).
        environment: As returned by `collect_environment`.
    """
    lines = ["### The machine that built the book", ""]
    rows = [
        ("Python", environment.get("python", "unknown")),
        ("Platform", environment.get("platform", "unknown")),
        ("CPU", environment.get("cpu", "unknown")),
        ("Git commit", environment.get("git_commit", "unknown")),
    ]
    rows += [
        (name, version)
        for key, version in environment.items()
        if key.startswith("package:")
        for name in [key.removeprefix("package:")]
    ]
    lines += _table(("item", "value"), rows)

    lines += ["", "### What the experiment runs recorded", ""]
    if runs:
        lines.append(
            f"Values recorded in the `provenance.json` files of the {len(runs)} runs, with the "
            f"number of runs that recorded each value."
        )
        lines.append("")
        lines += _table(("field", "value (runs)"), _run_value_rows(runs))
        lines += ["", "### Datasets", ""]
        lines += _dataset_lines(runs)
        lines += ["", "### Realised noise rates", ""]
        lines += _table(
            ("run", "method", "realised noise rate"),
            [
                (f"`{run.name}`", run.method, _format_noise_rate(run.provenance.get("realised_noise_rate")))
                for run in runs
            ],
        )
    else:
        lines.append("No experiment runs were found for this build.")

    lines += ["", f"### Settings of the profile `{profile}`", ""]
    if profile_settings:
        lines += _table(("setting", "value"), _setting_rows(profile_settings))
    else:
        lines.append("The build was not given the profile's settings.")
    return "\n".join(lines) + "\n"


def _run_value_rows(runs: list[RunRecord]) -> list[tuple[str, str]]:
    """Tabulate the distinct values of each environment field over the runs."""
    fields: dict[str, collections.Counter[str]] = {}

    def count(name: str, value: Any) -> None:
        text = "not recorded" if value is None else _format_value(value)
        fields.setdefault(name, collections.Counter())[text] += 1

    for run in runs:
        provenance = run.provenance
        cpu = provenance.get("cpu", "not recorded")
        if provenance.get("cpu_count") is not None:
            cpu = f"{cpu} ({provenance['cpu_count']} logical cores)"
        count("Python", provenance.get("python", "not recorded"))
        count("Platform", provenance.get("platform", "not recorded"))
        count("CPU", cpu)
        count("Device", provenance.get("device", "not recorded"))
        count("Git commit", provenance.get("git_commit", "not recorded"))

        packages = provenance.get("packages")
        packages = packages if isinstance(packages, dict) else {}
        for name in [*PROVENANCE_PACKAGES, *sorted(set(packages) - set(PROVENANCE_PACKAGES))]:
            version = packages.get(name, "not recorded")
            count(name, "not installed" if version is None else version)

    rows = []
    for name, values in fields.items():
        text = "; ".join(f"{value} ({number})" for value, number in sorted(values.items()))
        rows.append((name, text))
    return rows


def _setting_rows(settings: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested settings into rows named by dotted keys (``train.epochs``)."""
    rows = []
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows += _setting_rows(value, prefix=f"{name}.")
        elif isinstance(value, dict):
            rows.append((f"`{name}`", "none set (library defaults)"))
        elif isinstance(value, (dict, list, tuple)):
            # As code, so that Sphinx does not turn the JSON's straight quotes into curly ones.
            rows.append((f"`{name}`", f"`{_format_value(value)}`"))
        else:
            rows.append((f"`{name}`", _format_value(value)))
    return rows


def _dataset_lines(runs: list[RunRecord]) -> list[str]:
    pairs: collections.Counter[tuple[str, str]] = collections.Counter()
    for run in runs:
        dataset = run.provenance.get("dataset")
        if not isinstance(dataset, dict):
            continue
        name = str(dataset.get("name", "not recorded"))
        checksum = str(dataset.get("checksum", "not recorded"))
        pairs[(name, checksum)] += 1

    if not pairs:
        return ["No run recorded a dataset checksum."]
    rows = [(name, f"`{checksum}`", str(number)) for (name, checksum), number in sorted(pairs.items())]
    return _table(("dataset", "checksum", "runs"), rows)


def _format_noise_rate(rate: Any) -> str:
    if rate is None:
        return "not recorded"
    if isinstance(rate, dict):
        return ", ".join(f"{split} {_format_value(value)}" for split, value in rate.items())
    return _format_value(rate)


def _format_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """Format a Markdown table, escaping the characters that would break a cell."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        cells = [str(cell).replace("|", "\\|").replace("\n", " ") for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _git_commit(repo_root: Path) -> str:
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo_root), "rev-parse", "HEAD"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(repo_root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout, or no commit yet)"
    return f"{commit} (with uncommitted changes)" if status else commit


# ----------------------------------------------------------------------------------------------
# Benchmarks


def render_benchmarks(benchmarks_dir: Path) -> str:
    """Return the Markdown of the generated benchmarks section.

    Each expected result file (`BENCHMARKS`) and any other ``*.md`` file of ``benchmarks_dir``
    gets a section holding a copy of it, with its headings moved down so that they nest under the
    section's. A missing expected file gets a note that names the command that writes it.
    """
    benchmarks_dir = Path(benchmarks_dir)
    found = {path.stem: path for path in sorted(benchmarks_dir.glob("*.md"))} if benchmarks_dir.is_dir() else {}
    names = list(BENCHMARKS) + [name for name in found if name not in BENCHMARKS]

    lines: list[str] = []
    for name in names:
        lines += [f"## {BENCHMARKS.get(name, name)}", ""]
        if name in found:
            text = found[name].read_text(encoding="utf-8")
            lines += [_demote_headings(text, levels=2).rstrip("\n"), ""]
        else:
            lines += [
                "```{note}",
                f"This benchmark has not been run: `{name}.md` is missing from the benchmark "
                "results. Run `make benchmarks` and rebuild the book.",
                "```",
                "",
            ]
    return "\n".join(lines)


def _demote_headings(markdown: str, *, levels: int) -> str:
    """Add ``levels`` to the level of each ATX heading outside fenced code blocks."""
    lines = []
    fence: str | None = None
    for line in markdown.splitlines():
        stripped = line.lstrip()
        marker = re.match(r"(`{3,}|~{3,})", stripped)
        if marker and (fence is None or marker.group(1).startswith(fence)):
            fence = marker.group(1)[:3] if fence is None else None
        elif fence is None and re.match(r"#{1,6}\s", line):
            line = "#" * levels + line
        lines.append(line)
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# MathJax


def mathjax_source() -> Path:
    """Return the folder of MathJax 3's ES5 build inside the django-static-mathjax package."""
    try:
        import mathjax  # noqa: PLC0415 (the package is only needed when a book is built)
    except ImportError as error:
        raise FileNotFoundError(
            "MathJax files not found: the package django-static-mathjax is not installed; "
            "install the study's dependencies with pip install -e '.[study]'"
        ) from error
    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def copy_mathjax(destination: Path, *, source: Path | None = None) -> Path:
    """Copy the MathJax files the book needs into ``destination`` and return the entry script.

    Args:
        destination: Becomes ``_static/mathjax`` of the book. It is replaced if it exists.
        source: MathJax's ES5 folder. Defaults to `mathjax_source`.
    """
    source = mathjax_source() if source is None else Path(source)
    entry = source / MATHJAX_ENTRY
    if not entry.is_file():
        raise FileNotFoundError(
            f"MathJax entry script not found: {entry}; reinstall django-static-mathjax==3.2.2.1"
        )

    _remove_tree(destination, reason="MathJax is copied afresh")
    for part in MATHJAX_PARTS:
        origin = source / part
        target = destination / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, target)
        elif origin.is_file():
            shutil.copy2(origin, target)
        else:
            logger.warning("MathJax part %s not found in %s; math that needs it will not render", part, source)
    return destination / MATHJAX_ENTRY


# ----------------------------------------------------------------------------------------------
# Building


def jupyter_book_command(src: Path, output: Path) -> list[str]:
    """Return the command that builds ``src`` into ``output/_build/html`` with this interpreter.

    ``-W --keep-going`` turns every Sphinx warning into a failure but reports all of them, and
    ``-n`` also warns about every reference that does not resolve.
    """
    launcher = "import sys; from jupyter_book.cli.main import main; sys.argv[0] = 'jupyter-book'; sys.exit(main())"
    return [
        sys.executable, "-c", launcher,
        "build", str(src),
        "--path-output", str(output),
        "--builder", "html",
        "-W", "-n", "--keep-going",
    ]


def run_jupyter_book(command: list[str]) -> None:
    """Run a Jupyter Book command, logging each line of its output.

    Raises:
        RuntimeError: The command exited with a non-zero status; the message quotes the last
            `FAILURE_TAIL_LINES` lines of its output.
    """
    logger.info("running %s", " ".join(command[3:]))
    tail: collections.deque[str] = collections.deque(maxlen=FAILURE_TAIL_LINES)
    problems: list[str] = []
    environment = dict(os.environ, PYTHONUNBUFFERED="1")
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=environment,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            line = ANSI_ESCAPE.sub("", line.rstrip())
            tail.append(line)
            if WARNING_LINE.search(line):
                problems.append(line)
                logger.warning("jupyter-book: %s", line)
            else:
                logger.debug("jupyter-book: %s", line)
        status = process.wait()

    if status != 0:
        # Sphinx prints each warning when it meets it, often long before the end of the output.
        listed = "\n".join(problems[:FAILURE_TAIL_LINES]) or "(none)"
        output = "\n".join(tail)
        raise RuntimeError(
            f"jupyter-book build failed with exit status {status}.\nWarnings and errors:\n{listed}\n"
            f"Last {len(tail)} lines of its output:\n{output}"
        )


def _build_and_swap(src: Path, book_build: Path) -> None:
    """Build into a temporary folder and move the result to ``book_build/_build`` on success."""
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=book_build))
    try:
        run_jupyter_book(jupyter_book_command(src, staging))
        built = staging / "_build"
        if not (built / "html" / "index.html").is_file():
            raise RuntimeError(f"jupyter-book reported success but wrote no {built / 'html' / 'index.html'}")

        final = book_build / "_build"
        _remove_tree(final, reason="it is replaced by the new build")
        built.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class _RemoteAssetFinder(html.parser.HTMLParser):
    """Collect the URLs of scripts, style sheets, images and frames that a page loads remotely."""

    LOADING_LINK_RELS = {"stylesheet", "preload", "modulepreload", "prefetch", "icon", "manifest"}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag in {"script", "img", "iframe"}:
            url = values.get("src", "")
        elif tag == "link" and self.LOADING_LINK_RELS & set(values.get("rel", "").lower().split()):
            url = values.get("href", "")
        else:
            return
        if re.match(r"(https?:)?//", url, flags=re.IGNORECASE):
            self.urls.append(f"<{tag}> {url}")


def find_remote_assets(html_dir: Path) -> list[str]:
    """List the scripts, style sheets, images and frames that the built pages load from the network.

    Checks the ``src`` of ``<script>``, ``<img>`` and ``<iframe>`` tags and the ``href`` of
    ``<link>`` tags that load a resource (style sheets, preloads, icons). Plain hyperlinks are
    not loads and are not listed.

    Returns:
        One ``"<page>: <tag> <url>"`` string per remote load, sorted; empty when the book is
        self-contained.
    """
    found = []
    for page in sorted(Path(html_dir).rglob("*.html")):
        finder = _RemoteAssetFinder()
        finder.feed(page.read_text(encoding="utf-8", errors="replace"))
        found += [f"{page.relative_to(html_dir)}: {url}" for url in finder.urls]
    return found


# ----------------------------------------------------------------------------------------------
# Files


def _read_json(path: Path, *, warn: bool = True) -> dict[str, Any]:
    """Return the JSON object in ``path``, or an empty dict when it is missing or not an object."""
    if not path.is_file():
        if warn:
            logger.warning("%s not found; its values are shown as not recorded", path)
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        logger.warning("failed to read %s: %s; its values are shown as not recorded", path, error)
        return {}
    if not isinstance(value, dict):
        logger.warning("%s does not contain a JSON object; its values are shown as not recorded", path)
        return {}
    return value


def _remove_tree(path: Path, *, reason: str) -> None:
    if path.exists():
        logger.info("removing %s: %s", path, reason)
        shutil.rmtree(path)
