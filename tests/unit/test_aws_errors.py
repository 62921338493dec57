"""What moto cannot do: throttling and unprocessed items, through ``botocore.stub.Stubber``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from shared.aws import translate_transient_errors
from shared.datasets import Rejection
from shared.errors import AwsRequestError, StorageUnavailableError
from shared.models import Lineage, RejectedRecord
from shared.records import RejectRepository

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


def _table() -> Table:
    resource = boto3.resource(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return resource.Table("records")


def _rejected(line: int) -> RejectedRecord:
    return RejectedRecord(
        lineage=Lineage(
            batch_id="20260101T000000-abcdef",
            execution_arn="arn:x",
            source_key="raw/x.csv",
            line=line,
            validated_at=datetime(2026, 1, 1, tzinfo=UTC),
        ),
        values={"month": "13"},
        reasons=[Rejection(field="month", rule="less_than_equal", message="too big")],
    )


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError"]
)
def test_throttling_becomes_the_error_the_state_machine_retries(code: str):
    table = _table()
    with Stubber(table.meta.client) as stub:
        stub.add_client_error("get_item", service_error_code=code, http_status_code=400)

        with pytest.raises(StorageUnavailableError, match=code), translate_transient_errors():
            table.get_item(Key={"batch_id": "b", "record_key": "k"})


def test_other_aws_errors_are_named_after_their_code_and_operation():
    table = _table()
    with Stubber(table.meta.client) as stub:
        stub.add_client_error(
            "get_item", service_error_code="ValidationException", service_message="too big"
        )

        with pytest.raises(AwsRequestError) as raised, translate_transient_errors():
            table.get_item(Key={"batch_id": "b", "record_key": "k"})

    assert str(raised.value) == "ValidationException on GetItem: too big"
    assert (raised.value.code, raised.value.operation) == ("ValidationException", "GetItem")
    assert isinstance(raised.value.__cause__, ClientError)


def test_unprocessed_items_are_written_again_until_none_are_left():
    table = _table()
    repository = RejectRepository(table)
    with Stubber(table.meta.client) as stub:
        first: dict[str, object] = {"RequestItems": {"records": ANY}}
        stub.add_response(
            "batch_write_item",
            {
                "UnprocessedItems": {
                    "records": [
                        {
                            "PutRequest": {
                                "Item": {
                                    "batch_id": {"S": "20260101T000000-abcdef"},
                                    "record_key": {"S": "rejected#000000003"},
                                }
                            }
                        }
                    ]
                }
            },
            first,
        )
        stub.add_response("batch_write_item", {"UnprocessedItems": {}}, first)

        written = repository.put("flights", [_rejected(2), _rejected(3)])

        stub.assert_no_pending_responses()
    assert written == 2
