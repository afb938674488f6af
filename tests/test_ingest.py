from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from index.errors import ArchiveNotFound, EmbedderMismatch, IndexNotFound, NothingIngested
from index.ingest import IngestOptions, IngestSummary, ingest
from index.snapshot import Snapshot
from index.store import IndexFolder
from tests.fakes import HashingEmbedder, fake_embedder
from tests.options import ingest_options

from .conftest import DATA
from .waiting import eventually

ROOT = Path(__file__).parents[1]


def run(
    archive: Path, index: Path, name: str = "fake:64", options: IngestOptions | None = None, **kw: object
) -> IngestSummary:
    return ingest(archive, index, name, lambda: fake_embedder(name), options or ingest_options(), **kw)


def search_sources(index: Path, text: str, k: int = 5) -> list[str]:
    snap = Snapshot.open(index)
    try:
        hits = snap.search_dense(fake_embedder().embed_query(text), k)
        return [snap.post_of(cid).source for cid, _ in hits]
    finally:
        snap.close()


def test_first_ingest_indexes_every_post(archive: Path, tmp_path: Path, fake: HashingEmbedder) -> None:
    s = run(archive, tmp_path / "idx")
    assert (s.posts_seen, s.posts_added, s.posts_updated, s.posts_removed, s.posts_skipped) == (9, 9, 0, 0, 0)
    assert s.chunks_total == s.chunks_embedded == fake.embedded > 8
    snap = Snapshot.open(tmp_path / "idx", embedder="fake:64")
    assert len(snap.posts) == 9 and snap.dense.ntotal == s.chunks_total
    snap.close()


def test_unchanged_archive_embeds_nothing_and_publishes_nothing(
    archive: Path, tmp_path: Path, fake: HashingEmbedder
) -> None:
    first = run(archive, tmp_path / "idx")
    fake.embedded = 0
    again = run(archive, tmp_path / "idx")
    assert (again.posts_added, again.posts_updated, again.posts_removed, again.chunks_embedded) == (0, 0, 0, 0)
    assert again.chunks_total == first.chunks_total and again.version == first.version
    assert fake.embedded == 0


def test_an_edited_post_re_embeds_only_its_own_changed_chunks(
    archive: Path, tmp_path: Path, fake: HashingEmbedder
) -> None:
    run(archive, tmp_path / "idx")
    post = next((archive / "_posts").glob("2025-09-10-3-*.md"))
    post.write_text(post.read_text(encoding="utf-8").replace("42%削減", "45%削減"), encoding="utf-8")
    fake.embedded = 0
    s = run(archive, tmp_path / "idx")
    assert (s.posts_updated, s.posts_added, s.posts_removed) == (1, 0, 0)
    assert s.chunks_embedded == fake.embedded == 1  # only the chunk holding the edited sentence
    snap = Snapshot.open(tmp_path / "idx")
    texts = [c.text for c in snap.chunks(snap.chunk_ids.tolist()).values()]
    snap.close()
    assert any("45%削減" in t for t in texts) and not any("42%削減" in t for t in texts)


def test_new_cleaning_rules_re_chunk_every_post_and_re_embed_only_changed_chunks(
    archive: Path, tmp_path: Path, fake: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.cleaning
    import index.ingest
    import index.reading

    first = run(archive, tmp_path / "idx")
    # a rule change that alters one sentence of one post, shipped with a new cleaning version (read in this
    # process, post_seconds=0, so that the changed rule is the one used)
    clean = index.cleaning.clean_body
    monkeypatch.setattr(index.reading, "clean_body", lambda body: clean(body.replace("42%削減", "45%削減")))
    monkeypatch.setattr(index.ingest, "CLEANING_VERSION", index.cleaning.CLEANING_VERSION + 1)
    fake.embedded = 0
    s = run(archive, tmp_path / "idx", options=ingest_options(post_seconds=0))
    assert s.version != first.version and s.posts_updated == 9  # every post re-read, none of them edited
    assert s.chunks_embedded == fake.embedded == 1  # the others' vectors came from the cache
    snap = Snapshot.open(tmp_path / "idx")
    texts = [c.text for c in snap.chunks(snap.chunk_ids.tolist()).values()]
    snap.close()
    assert any("45%削減" in t for t in texts)


def test_a_deleted_post_leaves_the_index(archive: Path, tmp_path: Path, fake: HashingEmbedder) -> None:
    run(archive, tmp_path / "idx")
    victim = next((archive / "_posts").glob("2026-01-15-2-*.md"))
    assert victim.name in search_sources(tmp_path / "idx", "強化学習で数学の推論力を高める")
    victim.unlink()
    s = run(archive, tmp_path / "idx")
    assert (s.posts_removed, s.posts_seen, s.chunks_embedded) == (1, 8, 0)
    assert victim.name not in search_sources(tmp_path / "idx", "強化学習で数学の推論力を高める", k=50)


def test_a_new_post_is_added(archive: Path, tmp_path: Path, fake: HashingEmbedder) -> None:
    run(archive, tmp_path / "idx")
    (archive / "_posts" / "2026-02-01-1-音声ai.md").write_text(
        "---\ntitle: 音声AIの新製品\ndate: 2026-02-01 10:00:00 +0900\n---\n\n音声AIの新製品が発表された。誤認識率は3%。\n",
        encoding="utf-8",
    )
    s = run(archive, tmp_path / "idx")
    assert (s.posts_added, s.posts_updated) == (1, 0)
    assert search_sources(tmp_path / "idx", "音声AIの新製品")[0] == "2026-02-01-1-音声ai.md"


def test_malformed_posts_are_skipped_and_the_rest_ingested(tmp_path: Path, fake: HashingEmbedder) -> None:
    s = run(DATA / "malformed", tmp_path / "idx")
    assert (s.posts_seen, s.posts_added, s.posts_skipped) == (5, 1, 4)


def test_a_post_that_breaks_keeps_its_last_good_version(archive: Path, tmp_path: Path, fake: HashingEmbedder) -> None:
    run(archive, tmp_path / "idx")
    post = next((archive / "_posts").glob("2025-09-10-3-*.md"))
    post.write_text("---\ntitle: 'broken\n---\n\nbody\n", encoding="utf-8")
    s = run(archive, tmp_path / "idx")
    assert (s.posts_skipped, s.posts_removed) == (1, 0)
    assert post.name in search_sources(tmp_path / "idx", "外観検査AIで検査工数を削減")


def test_nothing_ingestible_is_an_error(tmp_path: Path, fake: HashingEmbedder) -> None:
    broken = tmp_path / "broken" / "_posts"
    broken.mkdir(parents=True)
    (broken / "2025-01-01-x.md").write_text("---\ntitle: x\n---\n\nno date\n", encoding="utf-8")
    with pytest.raises(NothingIngested, match="1 post file"):
        run(tmp_path / "broken", tmp_path / "idx")
    with pytest.raises(ArchiveNotFound, match="expected a Jekyll site folder"):
        run(tmp_path / "missing", tmp_path / "idx")


def test_opening_an_index_with_another_embedder_fails_clearly(
    archive: Path, tmp_path: Path, fake: HashingEmbedder
) -> None:
    run(archive, tmp_path / "idx")
    with pytest.raises(EmbedderMismatch, match=r"built with embedder 'fake:64'.*RAG_EMBEDDING_MODEL"):
        Snapshot.open(tmp_path / "idx", embedder="fake:32")
    with pytest.raises(EmbedderMismatch):
        run(archive, tmp_path / "idx", name="fake:32")
    rebuilt = run(archive, tmp_path / "idx", name="fake:32", rebuild=True)
    assert rebuilt.posts_added == 9
    assert Snapshot.open(tmp_path / "idx", embedder="fake:32").manifest.dim == 32


def test_a_missing_index_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match='run "rag ingest ARCHIVE_DIR'):
        Snapshot.open(tmp_path / "nothing")


def test_a_crash_mid_ingest_leaves_the_previous_index_and_loses_no_embedding_work(
    archive: Path, tmp_path: Path, fake: HashingEmbedder
) -> None:
    index = tmp_path / "idx"
    run(DATA / "malformed", index)  # a small previous version
    before = IndexFolder(index).current()
    fake.embedded, fake.fail_after = 0, 6
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(archive, index, batch_texts=2)
    assert IndexFolder(index).current() == before
    assert search_sources(index, "音声認識AIの誤り率") == ["2025-09-24-1-good.md"]
    assert not list((index / "versions").glob(".build-*"))
    done_before_crash = fake.embedded
    assert 0 < done_before_crash <= 6
    fake.fail_after, fake.embedded = None, 0
    s = run(archive, index)
    assert s.posts_added == 9 and s.posts_removed == 1
    assert fake.embedded == s.chunks_total - done_before_crash  # the cache kept what was done


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, "RAG_EMBEDDING_MODEL": "fake:64", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.run_cli", *args],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a test run started in the background inherits SIGINT ignored, and so would the CLI
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_cli_json_prints_only_the_summary_with_exactly_its_keys(tmp_path: Path) -> None:
    proc = cli("ingest", str(DATA / "malformed"), "--index", str(tmp_path / "idx"), "--json")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert list(summary) == [
        "posts_seen",
        "posts_added",
        "posts_updated",
        "posts_removed",
        "posts_skipped",
        "chunks_total",
        "chunks_embedded",
        "seconds",
    ]
    assert summary["posts_skipped"] == 4
    assert err.count("skipped 2025-09-2") == 4  # one warning per malformed file, naming it


def test_cli_fails_with_a_message_when_the_archive_is_missing(tmp_path: Path) -> None:
    proc = cli("ingest", str(tmp_path / "nope"), "--index", str(tmp_path / "idx"))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert (
        err.strip()
        == f"error: no archive at {tmp_path / 'nope'}: expected a Jekyll site folder holding _posts/ (for example RAG_ARCHIVE=../shared/corpus)"
    )


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killing_an_ingest_leaves_the_previous_index_intact(archive: Path, tmp_path: Path, sig: int) -> None:
    index = tmp_path / "idx"
    first = cli("ingest", str(DATA / "malformed"), "--index", str(index))
    assert first.wait(timeout=120) == 0
    before = IndexFolder(index).current()
    slow = cli("ingest", str(archive), "--index", str(index), env={"FAKE_EMBED_DELAY": "0.2"})
    # killed while it embeds: its build folder already holds the new version's chunks
    eventually(lambda: any((b / "docstore.sqlite").is_file() for b in (index / "versions").glob(".build-*")),
               60, "the ingest reaching its embedding stage")  # fmt: skip
    slow.send_signal(sig)
    _, err = slow.communicate(timeout=60)
    assert slow.returncode == (-9 if sig == signal.SIGKILL else 130)
    if sig == signal.SIGINT:
        assert "previous index is untouched" in err
    assert IndexFolder(index).current() == before
    assert search_sources(index, "音声認識AIの誤り率") == ["2025-09-24-1-good.md"]
    again = cli("ingest", str(archive), "--index", str(index), "--json")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert json.loads(out)["posts_added"] == 9
