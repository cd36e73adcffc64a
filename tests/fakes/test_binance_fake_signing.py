"""The fake's signature rule against the SDK's own signing functions, over arbitrary parameter values."""

from __future__ import annotations

import hashlib
import hmac
import string

import pytest
from binance_common.utils import encoded_string, hmac_hashing, websocket_api_signature
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.binance.errors import BinanceError
from tests.fakes.binance.signing import verify_rest, verify_ws

SECRET = "s3cret"
# Binance's client-order-id alphabet plus characters a careless client might send.
values = st.text(alphabet=string.ascii_letters + string.digits + ".:/_-~ +&=%é", min_size=1, max_size=20)
params = st.dictionaries(st.sampled_from(["symbol", "newClientOrderId", "price", "quantity", "note"]), values,
                         min_size=1)


@given(params)
def test_what_the_sdk_signs_over_rest_verifies(sent: dict[str, str]) -> None:
    payload = encoded_string({**sent, "timestamp": 1})
    verify_rest(f"{payload}&signature={hmac_hashing(SECRET, payload)}", SECRET)


@given(params)
def test_a_signature_over_the_unencoded_payload_fails_whenever_encoding_changes_it(sent: dict[str, str]) -> None:
    payload = encoded_string({**sent, "timestamp": 1})
    raw = "&".join(f"{k}={v}" for k, v in {**sent, "timestamp": 1}.items())
    signature = hmac.new(SECRET.encode(), raw.encode(), hashlib.sha256).hexdigest()
    if raw == payload:
        verify_rest(f"{payload}&signature={signature}", SECRET)
    else:
        with pytest.raises(BinanceError) as refused:
            verify_rest(f"{payload}&signature={signature}", SECRET)
        assert refused.value.code == -1022


@given(params)
def test_what_the_sdk_signs_over_the_ws_api_verifies_and_a_changed_value_does_not(sent: dict[str, str]) -> None:
    class Config:
        api_key = "key"
        api_secret = SECRET
        private_key = None

    signed = dict(websocket_api_signature(Config(), dict(sent)))
    verify_ws(signed, SECRET)
    name = next(iter(sent))
    with pytest.raises(BinanceError) as refused:
        verify_ws({**signed, name: signed[name] + "x"}, SECRET)
    assert refused.value.code == -1022
