"""Reading manifests for the offline commands: files, directories, Lists, and what is ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolfleet.cli.manifests import (
    Document,
    check_documents,
    manifest_files,
    namespace_of,
    read_documents,
)

from .fixtures import sample, write


def test_a_directory_gives_its_manifests_sorted_and_recursively(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.json", "notes.txt", "sub/c.yml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")

    assert manifest_files([str(tmp_path), "-"]) == [
        str(tmp_path / "a.json"), str(tmp_path / "b.yaml"), str(tmp_path / "sub" / "c.yml"), "-"]


def test_lists_are_expanded_and_empty_documents_dropped(tmp_path: Path) -> None:
    service = sample()
    path = write(tmp_path, "all.yaml", {"kind": "List", "items": [service, {"kind": "Pod"}]},
                 None, service)

    documents, unreadable = read_documents([str(path)])

    assert unreadable == []
    assert [(d.index, d.kind) for d in documents] == [
        (1, "ToolService"), (2, "Pod"), (3, "ToolService")]


def test_only_toolfleet_documents_are_checked() -> None:
    documents = [Document("f", 1, sample()), Document("f", 2, {"kind": "Pod"}),
                 Document("f", 3, {"apiVersion": "toolfleet.io/v1", "kind": "Gadget"}),
                 Document("f", 4, "just a string")]

    checked = check_documents(documents)

    assert [doc.index for doc, _ in checked] == [1, 3]
    assert [p.path for p in checked[1][1].errors] == ["kind"]


def test_a_document_that_is_not_a_mapping_has_no_kind_or_name() -> None:
    document = Document("f", 1, ["a", "list"])
    assert (document.kind, document.name, document.is_toolfleet) == ("", "", False)
    assert document.label() == "f (document 1): ?/?"


@pytest.mark.parametrize(("written", "flag", "expected"), [
    ("team-b", None, "team-b"), (None, "team-a", "team-a"), (None, None, "default")])
def test_the_namespace_is_the_manifests_then_the_flags_then_default(
        written: str | None, flag: str | None, expected: str) -> None:
    body = sample()
    if written:
        body["metadata"]["namespace"] = written
    assert namespace_of(Document("f", 1, body), flag) == expected
