"""The KMS wrapper of a review's data key (models/review_keys.py), against botocore's stub of the KMS API: the calls it
makes, with the key and the purpose bound in. No KMS server runs here; the master-key wrapper, which shares the
interface, is tested end to end in tests/integration/test_envelope.py and test_keys.py."""

from __future__ import annotations

import base64

import boto3
import pytest
from botocore.stub import Stubber

from models import master_key, review_keys

KEY_ID = "alias/cspr-northshire"


def test_a_data_key_is_wrapped_and_unwrapped_by_kms_with_its_purpose() -> None:
    client = boto3.client("kms", region_name="eu-west-2", aws_access_key_id="x", aws_secret_access_key="y")
    kms = review_keys.Kms(KEY_ID, client)
    data_key = bytes(range(32))
    with Stubber(client) as stub:
        stub.add_response(
            "encrypt",
            {"CiphertextBlob": b"wrapped-by-kms", "KeyId": KEY_ID},
            {"KeyId": KEY_ID, "Plaintext": data_key, "EncryptionContext": review_keys.KMS_CONTEXT},
        )
        stub.add_response(
            "decrypt",
            {"Plaintext": data_key, "KeyId": KEY_ID},
            {"KeyId": KEY_ID, "CiphertextBlob": b"wrapped-by-kms", "EncryptionContext": review_keys.KMS_CONTEXT},
        )
        wrapped = kms.wrap(data_key)
        assert base64.b64decode(wrapped) == b"wrapped-by-kms"
        assert kms.unwrap(wrapped) == data_key
        stub.assert_no_pending_responses()
    assert kms.name == "kms:" + KEY_ID


def test_the_wrapper_that_wrapped_a_key_is_the_one_that_unwraps_it() -> None:
    assert isinstance(review_keys.wrapper_for("local"), review_keys.MasterKey)
    assert review_keys.wrapper_for("kms:" + KEY_ID).key_id == KEY_ID  # type: ignore[attr-defined]
    with pytest.raises(master_key.DecryptionError, match="which this system does not know"):
        review_keys.wrapper_for("vault:somewhere")
