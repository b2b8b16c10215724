"""The layers' arrows, checked on the import graph read from the source (ast, nothing runs).

See docs/architecture.md for the picture. Each module belongs to one unit: the engine
(`rules`), the core floor (`core`), the pipeline (`pipeline`), one plug-in per folder under
`integrations/` (`plugin:<name>`), or the composition root (`root`). An import may point:

- from the engine only into the engine, and from the core only into the core and the engine;
- from the pipeline into the core and the engine, never into a plug-in or the root;
- from a plug-in into itself, the core, the engine and the pipeline's ports (worker/ports.py),
  never into another plug-in;
- from the root anywhere.

`PENDING` records where modules that have not moved yet belong, and `KNOWN` the arrows that
still break a rule, each with the step that removes it. The test fails on any new broken
arrow, and on a KNOWN one that is gone (delete it from the list, so the list only shrinks).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# The card's folders at the repository's top, each installed as a part of `strideguard`
# (strideguard/<folder> is a link to it: docs/architecture.md, "One package").
CARD_FOLDERS = ("rules", "worker", "integrations", "migrations")
PACKAGES = ("strideguard", *CARD_FOLDERS)

ROOT_MODULES = (
    "strideguard.web",
    "strideguard.cli",
    "strideguard.demo",
    "strideguard.digest_preview",
    "strideguard.athlete_detail",
    "strideguard.mailsink",
    "strideguard.runtime",
    "strideguard.worker.actors",
    "strideguard.worker.embedded",
    "strideguard.web.worker_seam",
)
# Modules still in a folder of another unit, with the unit they belong to.
PENDING: dict[str, str] = {}
# Arrows that still break a rule: (importer, imported) -> what removes it.
KNOWN: dict[tuple[str, str], str] = {}


def unit_of(module: str) -> str:
    for name in sorted(PENDING, key=len, reverse=True):
        if module == name or module.startswith(name + "."):
            return PENDING[name]
    parts = module.split(".")[1:]  # every module is strideguard.<...>
    top = parts[0] if parts else ""
    if top == "rules":
        return "rules"
    if top == "integrations":
        return f"plugin:{parts[1]}" if len(parts) > 1 else "core"
    if any(module == m or module.startswith(m + ".") for m in ROOT_MODULES):
        return "root"
    if top == "worker":
        return "pipeline"
    return "core"  # strideguard's floor, and migrations (which read only the models)


def allowed(importer: str, imported: str) -> bool:
    source, target = unit_of(importer), unit_of(imported)
    if source == target or source == "root":
        return True
    if source == "rules":
        return False
    if source == "core":
        return target == "rules"
    if source == "pipeline":
        return target in {"core", "rules"}
    # a plug-in
    return target in {"core", "rules"} or imported == "strideguard.worker.ports"


def module_name(path: Path, repo: Path = REPO) -> str:
    parts = list(path.relative_to(repo).with_suffix("").parts)
    if parts[0] in CARD_FOLDERS:
        parts = ["strideguard", *parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(repo: Path = REPO) -> dict[str, Path]:
    return {
        module_name(path, repo): path
        for package in PACKAGES
        for path in sorted((repo / package).rglob("*.py"))  # rglob does not enter the links
    }


def imports_of(module: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """Our modules that `module` imports (any `from x import y` naming a submodule counts)."""
    is_package = path.name == "__init__.py"
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = module.split(".")
            if node.level:
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            named.add(target)
            named.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in named if name in known and name != module}


def graph(found: Mapping[str, Path]) -> dict[str, set[str]]:
    return {module: imports_of(module, path, found) for module, path in found.items()}


def broken_arrows(edges: Mapping[str, set[str]]) -> set[tuple[str, str]]:
    return {(a, b) for a, targets in edges.items() for b in targets if not allowed(a, b)}


def unit_cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """Cycles between units (a package-level import loop), each as the units around it."""
    units: dict[str, set[str]] = {}
    for a, targets in edges.items():
        for b in targets:
            if unit_of(a) != unit_of(b):
                units.setdefault(unit_of(a), set()).add(unit_of(b))
    cycles: list[list[str]] = []

    def walk(unit: str, trail: list[str]) -> Iterator[list[str]]:
        for nxt in sorted(units.get(unit, ())):
            if nxt == trail[0]:
                yield [*trail, nxt]
            elif nxt not in trail and nxt > trail[0]:
                yield from walk(nxt, [*trail, nxt])

    for start in sorted(units):
        cycles.extend(walk(start, [start]))
    return cycles


def test_every_import_points_down_or_across_only_where_the_layers_allow() -> None:
    broken = broken_arrows(graph(modules()))
    new = sorted(broken - KNOWN.keys())
    gone = sorted(KNOWN.keys() - broken)
    assert new == [], "imports that break the layers (docs/architecture.md):\n" + "\n".join(
        f"  {a} -> {b} ({unit_of(a)} -> {unit_of(b)})" for a, b in new
    )
    assert gone == [], f"no longer broken, delete from KNOWN: {gone}"


def old_names(path: Path) -> set[str]:
    """Imports of a card folder by its bare name (`rules`, `worker.x`): they work only from
    the repository's top and break in an installed wheel, which holds `strideguard` alone."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return {name for name in found if name.split(".")[0] in CARD_FOLDERS}


def test_every_import_of_ours_names_the_installed_package() -> None:
    sources = [*modules().values(), *(REPO / "tests").rglob("*.py"), *(REPO / "bench").glob("*.py")]
    bare = {f"{path.relative_to(REPO)}: {name}" for path in sources for name in old_names(path)}
    assert sorted(bare) == [], "import these as strideguard.<folder>..."


def test_the_bare_name_check_catches_an_old_import(tmp_path: Path) -> None:
    target = _copy_with(tmp_path, "strideguard/times.py", "from worker import ports")
    assert old_names(target) == {"worker"}


# Only these load the Strava simulator, and on use: the demo and `strideguard sim`, and the
# synthetic backtest. It ships in the wheel for them; the web app and the worker never load it
# (tests/packaging/test_wheel.py and tests/spine/test_startup_imports.py run them).
SIMULATOR = "strideguard.integrations.strava.simulator"
SIMULATOR_USERS = {"strideguard.demo", "strideguard.cli.sim_cmd", "strideguard.cli.backtest_io"}


def test_only_the_demo_and_the_sim_commands_import_the_simulator() -> None:
    users = {
        a
        for a, targets in graph(modules()).items()
        if not (a == SIMULATOR or a.startswith(SIMULATOR + "."))
        and any(t == SIMULATOR or t.startswith(SIMULATOR + ".") for t in targets)
    }
    assert users == SIMULATOR_USERS


# `app.state` is an untyped bag: only these put things on it or read them back, each for its
# own reason (docs/architecture.md, "Web routes take `services: ServicesDep`"); routes ask for
# the typed view instead, so a missing object is a type error, not an AttributeError at run time.
STATE_READERS = {
    "strideguard.services",  # the typed view itself
    "strideguard.integrations.strava.web_services",  # the Strava plug-in's own view
    "strideguard.web.app",  # fills the state of a new app
    "strideguard.web.worker_seam",  # puts the worker's runtime there
    "strideguard.web.live",  # serves an app made elsewhere, reading its settings
}


def reads_app_state(path: Path) -> bool:
    """Whether the module names `app.state` (`app.state`, `request.app.state`, ...)."""
    return any(
        isinstance(node, ast.Attribute)
        and node.attr == "state"
        and (
            (isinstance(node.value, ast.Name) and node.value.id == "app")
            or (isinstance(node.value, ast.Attribute) and node.value.attr == "app")
        )
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
    )


def state_readers(found: Mapping[str, Path]) -> set[str]:
    return {module for module, path in found.items() if reads_app_state(path)}


def test_only_the_composition_and_the_typed_views_read_app_state() -> None:
    assert sorted(state_readers(modules()) - STATE_READERS) == [], "take `services: ServicesDep`"


def test_the_state_check_catches_a_route_reading_app_state(tmp_path: Path) -> None:
    _copy_with(tmp_path, "strideguard/web/runner/home.py", "rules = request.app.state.rules")
    assert state_readers(modules(tmp_path)) - STATE_READERS == {"strideguard.web.runner.home"}


def test_no_two_units_import_each_other_in_a_loop() -> None:
    edges = graph(modules())
    without_known = {a: {b for b in bs if (a, b) not in KNOWN} for a, bs in edges.items()}
    assert unit_cycles(without_known) == []


@pytest.mark.parametrize(
    ("importer", "line", "why"),
    [
        ("rules/findings.py", "import strideguard.models", "the engine imports the core"),
        ("strideguard/times.py", "from strideguard.worker import ports",
         "the core imports the pipeline"),
        ("worker/evaluation.py", "import strideguard.integrations.strava.sync",
         "the pipeline names a plug-in"),
        ("integrations/strava/source.py", "from strideguard.worker import evaluation",
         "a plug-in imports "
         "the pipeline beyond its ports"),
        ("worker/ports.py", "import strideguard.web.app", "the pipeline imports the root"),
    ],
)  # fmt: skip
def test_the_layer_test_catches_a_forbidden_import(
    tmp_path: Path, importer: str, line: str, why: str
) -> None:
    """A copy of the tree with one forbidden import added fails the check, naming the importer."""
    target = _copy_with(tmp_path, importer, line)
    broken = broken_arrows(graph(modules(tmp_path))) - KNOWN.keys()
    assert {a for a, _ in broken} == {module_name(target, tmp_path)}, why


def test_the_cycle_check_catches_a_loop_between_units(tmp_path: Path) -> None:
    _copy_with(tmp_path, "strideguard/times.py", "import strideguard.web.app")
    edges = graph(modules(tmp_path))
    without_known = {a: {b for b in bs if (a, b) not in KNOWN} for a, bs in edges.items()}
    assert ["core", "root", "core"] in unit_cycles(without_known)


def _copy_with(tmp_path: Path, importer: str, line: str) -> Path:
    """The source tree copied under `tmp_path`, with `line` added at the end of `importer`."""
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            copy = tmp_path / path.relative_to(REPO)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    target = tmp_path / importer
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    return target
