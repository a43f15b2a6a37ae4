"""Developer tasks. ``nox`` runs lint, typing and tests; ``nox -s bench`` the benchmarks."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typing", "tests"]
nox.options.reuse_existing_virtualenvs = False

PYPROJECT = nox.project.load_toml("pyproject.toml")
ROOT = Path(__file__).parent


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff lint and format check."""
    session.install(*_group("lint"))
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict over the package and the typed usage file."""
    session.install(".[testing]", *_group("typing"))
    session.run("mypy")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite with branch coverage on every core, then the docstring examples."""
    session.install(".[testing]", *_group("tests"))
    session.run("coverage", "erase")
    # One pytest worker per core (pytest-xdist); pytest-cov gathers the workers' coverage.
    session.run("pytest", "-n", "auto", "--cov", "--cov-report=", *session.posargs)
    session.run("coverage", "run", "-m", "pytest", "--doctest-modules", "--pyargs", "omnichannel")
    session.run("coverage", "combine", "--append")
    session.run("coverage", "report")


@nox.session
def figures(session: nox.Session) -> None:
    """The full-size PostgreSQL concurrency figures: 16 worker processes, minutes not seconds."""
    session.install(".[testing]", *_group("tests"))
    session.run(
        "pytest", "-m", "figures", "--durations=0", "tests/test_postgres_processes.py",
        *session.posargs,
    )  # fmt: skip


@nox.session
def spark(session: nox.Session) -> None:
    """The rule SQL on Apache Spark (pyspark in local mode; needs Java 17)."""
    session.install(".[testing,spark]", *_group("tests"))
    session.run("pytest", "tests/test_rules_spark.py", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site strictly (warnings fail), running the notebooks."""
    # The notebooks in docs/notebooks run at build time: analytics and charts.
    session.install(".[testing,analytics,plots]", *_group("docs"))
    session.env["NO_MKDOCS_2_WARNING"] = "1"  # Material's end-of-life banner is not a build problem
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / "site"))


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks and print the ratios reported in docs/benchmarks.md."""
    session.install(".[testing]", *_group("bench"))
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: a month of a synthetic shop on an SQLite file (README's first command)."""
    session.install(".[demo]")
    session.chdir(session.create_tmp())
    session.run("omnichannel", "demo")
