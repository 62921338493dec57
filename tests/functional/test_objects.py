"""S3 objects over moto: a manifest of many chunks in multipart pieces, and streamed reads."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from shared.errors import ChunkObjectMissingError
from shared.models import ChunkRef
from shared.objects import ObjectStore

if TYPE_CHECKING:
    from tests.functional.conftest import Pipeline


def _store(pipeline: Pipeline) -> ObjectStore:
    return ObjectStore(pipeline.aws["s3"], pipeline.outputs["RawBucketName"])


def _ref(index: int) -> ChunkRef:
    return ChunkRef(
        index=index,
        key=f"chunks/b/{index:06d}/raw.ndjson",
        records=1000,
        first_line=index * 1000 + 2,
        last_line=index * 1000 + 1001,
    )


def test_a_large_manifest_is_written_in_parts_and_reads_back_whole(pipeline: Pipeline):
    store = _store(pipeline)
    count = 160_000  # about 17.6 MB of JSON: three multipart parts of 8 MiB or less

    with store.json_array_writer("chunks/b/manifest.json") as writer:
        for index in range(count):
            writer.add(_ref(index))

    head = pipeline.aws["s3"].head_object(Bucket=store.bucket, Key="chunks/b/manifest.json")
    assert head["ContentLength"] > 2 * 8 * 1024 * 1024
    assert "-" in head["ETag"], "a multipart upload's ETag ends in -<parts>"
    items = json.loads(store.get_bytes("chunks/b/manifest.json"))
    assert len(items) == writer.count == count
    assert [ChunkRef.model_validate(i) for i in items[:2]] == [_ref(0), _ref(1)]


def test_a_small_manifest_is_one_put_and_an_empty_one_is_an_empty_array(pipeline: Pipeline):
    store = _store(pipeline)

    with store.json_array_writer("chunks/c/manifest.json") as writer:
        writer.add(_ref(0))
    with store.json_array_writer("chunks/d/manifest.json"):
        pass

    assert json.loads(store.get_bytes("chunks/c/manifest.json")) == [_ref(0).model_dump()]
    assert json.loads(store.get_bytes("chunks/d/manifest.json")) == []


def test_a_failure_while_writing_leaves_no_manifest(pipeline: Pipeline):
    store = _store(pipeline)

    with pytest.raises(RuntimeError), store.json_array_writer("chunks/e/manifest.json") as writer:
        for index in range(120_000):
            writer.add(_ref(index))
        raise RuntimeError("the source broke")

    with pytest.raises(ChunkObjectMissingError):
        store.get_bytes("chunks/e/manifest.json")
    uploads = pipeline.aws["s3"].list_multipart_uploads(Bucket=store.bucket)
    assert uploads.get("Uploads", []) == []


def test_an_object_streams_line_by_line_and_counts_what_it_read(pipeline: Pipeline):
    store = _store(pipeline)
    body = b"".join(b"line %d\n" % n for n in range(100_000))
    store.put_bytes("raw/x.csv", body, "text/csv")

    stream = store.open("raw/x.csv")
    lines = list(stream)

    assert len(lines) == 100_000
    assert lines[-1] == b"line 99999\n"
    assert stream.bytes_read == len(body)
    with pytest.raises(ChunkObjectMissingError):
        store.open("raw/missing.csv")
