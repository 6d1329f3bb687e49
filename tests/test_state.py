"""ReviewState's rules: derived paging and filters, and one writer per trait.

The state is plain traitlets (no widgets); these tests need neither a store nor a
kernel. The writer of each trait is named in its ``help``; an AST scan of the
widgets and the composition root checks the code writes each trait from that one
place only.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from traitlets import TraitError

from audiosoup_widgets.errors import ValidationError
from audiosoup_widgets.state import ReviewState

PACKAGE = Path(__file__).resolve().parents[1] / "audiosoup_widgets"
DERIVED = {"n_pages", "filtered"}


def test_pages_follow_the_total_and_the_page_size():
    st = ReviewState()
    assert (st.total, st.n_pages, st.page_exists) == (0, 1, True)
    st.total = 130
    assert st.n_pages == 6
    st.page_size = 48
    assert st.n_pages == 3
    st.page = 5
    assert not st.page_exists  # a count may shrink under the page shown
    st.total = 48
    assert st.n_pages == 1
    assert ReviewState(total=97, page_size=96).n_pages == 2  # derived from initial values too


def test_filtered_follows_every_filter():
    st = ReviewState(dataset="d")
    seen = []
    st.observe(lambda c: seen.append(c["new"]), names=["filtered"])
    for name, value, empty in (
        ("label_filter", ["yes"], []),
        ("split_filter", "test", None),
        ("search", "spk", ""),
        ("status_filter", "ok", None),
        ("id_filter", (3, 4), None),
    ):
        setattr(st, name, value)
        assert st.filtered, name
        setattr(st, name, empty)
        assert not st.filtered, name
    st.sort = "-path"  # order is not a filter
    assert not st.filtered and seen == [True, False] * 5
    assert ReviewState(search="x").filtered


def test_filters_are_what_the_services_take():
    st = ReviewState(
        dataset="words",
        label_filter=["no", "yes"],
        split_filter="test",
        search="spk",
        status_filter="ok",
        sort="-duration",
    )
    assert st.filters() == {
        "dataset": "words",
        "labels": ("no", "yes"),
        "split": "test",
        "search": "spk",
        "status": "ok",
        "sort": "-duration",
        "ids": None,
        "suspects": False,
        "semantic": "",
        "disagreement": False,
        "tags": (),
        "reviewer_flags": (),
        "origin": None,
    }
    # By meaning, the words go to the semantic search instead of the letter search.
    st.search_by_meaning = True
    assert (st.filters()["search"], st.filters()["semantic"]) == ("", "spk")


def test_suspects_only_is_a_filter_and_saved_bumps_the_revision():
    st = ReviewState(dataset="words")
    assert not st.filtered
    st.suspects_only = True
    assert st.filtered and st.filters()["suspects"] is True
    st.saved()
    assert st.revision == 1


def test_page_and_page_size_are_checked():
    st = ReviewState()
    st.page = -3
    assert st.page == 0
    with pytest.raises(TraitError):
        st.page_size = 25


def _writers_in(path: Path) -> dict[str, set[str]]:
    """Trait -> classes that assign it on a state object, in one module."""
    found: dict[str, set[str]] = {}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        for fn in (n for n in ast.walk(cls) if isinstance(n, ast.FunctionDef)):
            # Names bound to the state: the constructor's ``state``, ``s = self.state``.
            aliases = {"state"} | {
                t.id
                for n in ast.walk(fn)
                if isinstance(n, ast.Assign)
                for t in n.targets
                if isinstance(t, ast.Name) and ast.unparse(n.value) == "self.state"
            }
            for node in ast.walk(fn):
                if isinstance(node, ast.Assign):
                    targets = [e for t in node.targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
                elif isinstance(node, ast.AugAssign):
                    targets = [node.target]
                else:
                    continue
                for t in targets:
                    if isinstance(t, ast.Attribute) and (
                        ast.unparse(t.value) == "self.state"
                        or (isinstance(t.value, ast.Name) and t.value.id in aliases)
                    ):
                        found.setdefault(t.attr, set()).add(cls.name)
    return found


def _hosts() -> dict[str, str]:
    """Mixin class -> the widget it is part of (a mixin's writes are its widget's)."""
    hosts: dict[str, str] = {}
    for path in sorted((PACKAGE / "widgets").glob("*.py")):
        for cls in (
            n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.ClassDef)
        ):
            for base in cls.bases:
                if isinstance(base, ast.Name) and base.id != "SafeTemplate":
                    hosts[base.id] = cls.name
    return hosts


def test_each_trait_has_the_one_writer_its_help_names():
    writers: dict[str, set[str]] = {}
    hosts = _hosts()
    for path in [*sorted((PACKAGE / "widgets").glob("*.py")), PACKAGE / "app.py"]:
        for trait, classes in _writers_in(path).items():
            writers.setdefault(trait, set()).update(hosts.get(c, c) for c in classes)
    traits = ReviewState.class_traits()
    assert set(writers) <= set(traits), "a widget writes something the state does not have"
    assert writers, "the scan found no writes at all"
    for name, trait in traits.items():
        match = re.search(r"\(writer: ([A-Za-z_/]+)", trait.help)
        assert match, f"{name}: its help names no writer"
        named = match.group(1)
        if name in DERIVED:
            assert named == "ReviewState" and name not in writers, name
        elif named[0].islower():
            # Written only by the state's own methods (report, select, filter_to, ...).
            assert name not in writers, f"{name}: written by {writers[name]}"
        else:
            assert writers.get(name, set()) <= {named}, f"{name}: written by {writers[name]}"


def test_the_scan_sees_the_writers_it_should():
    writers: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / "widgets").glob("*.py")):
        for trait, classes in _writers_in(path).items():
            writers.setdefault(trait, set()).update(classes)
    assert writers["total"] == {"SampleGrid"} and writers["panel"] == {"ReviewDialog"}
    # revision and reviewer go through ReviewState.saved and ReviewState.sign
    assert "revision" not in writers and "reviewer" not in writers
    assert writers["selected_features"] == {"FeatureExplorer"}


def test_selection_adds_removes_and_replaces_checked_ids():
    st = ReviewState(dataset="d")
    seen = []
    st.observe(lambda c: seen.append(len(c["new"])), names=["selection"])
    assert st.select([3, 1, 2]) == 3 and st.selection == {1, 2, 3}
    assert st.select([2, 9], mode="remove") == 2 and st.selection == {1, 3}
    assert st.select(iter([7, 7.0]), mode="replace") == 1 and st.selection == {7}
    st.select([7])  # no change, no notice
    st.clear_selection()
    st.clear_selection()
    assert st.selection == frozenset() and seen == [3, 2, 1, 0]


@pytest.mark.parametrize("bad", [["1"], [True], [0], [-4], [1.5], "12", [None]])
def test_selection_refuses_what_is_not_a_sample_id(bad):
    st = ReviewState(dataset="d")
    st.select([5])
    with pytest.raises(ValidationError):
        st.select(bad)
    assert st.selection == {5}  # nothing half-applied


def test_selection_refuses_an_unknown_mode_and_a_huge_set(monkeypatch):
    import audiosoup_widgets.state as state_module

    st = ReviewState(dataset="d")
    with pytest.raises(ValidationError, match="mode"):
        st.select([1], mode="toggle")
    monkeypatch.setattr(state_module, "MAX_SELECTION", 3)
    st.select([1, 2, 3])
    with pytest.raises(ValidationError, match="at most 3"):
        st.select([4])
    assert st.selection == {1, 2, 3}


def test_id_filter_is_sorted_named_and_part_of_the_filters():
    st = ReviewState(dataset="d")
    assert st.filter_to({9, 2, 5}, source="  the   map\nselection ") == 3
    assert st.id_filter == (2, 5, 9) and st.id_filter_source == "the map selection"
    assert st.filters()["ids"] == (2, 5, 9) and st.filtered
    st.filter_to([], source="")  # an empty list shows nothing, and still says where it came from
    assert st.id_filter == () and st.id_filter_source == "a list of clips" and st.filtered
    st.clear_id_filter()
    assert st.id_filter is None and st.id_filter_source == "" and not st.filtered
    with pytest.raises(ValidationError):
        st.filter_to(["x"], source="bad")
    assert st.id_filter is None
