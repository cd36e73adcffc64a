"""The fake's signature rule against the SDK's own signing functions, over arbitrary parameter values."""

from __future__ import annotations

import hashlib
import hmac
import string

import pytest
from binance_common.signature import Signers
from binance_common.utils import encoded_string, get_signature, hmac_hashing, websocket_api_signature
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.binance.errors import BinanceError
from tests.fakes.binance.signing import HmacVerifier, PublicKeyVerifier, verify_rest, verify_ws
from tests.fakes.binance_support import ed25519_key_pair, rsa_key_pair

SECRET = "s3cret"
KEY = HmacVerifier(SECRET)
# Binance's client-order-id alphabet plus characters a careless client might send.
values = st.text(alphabet=string.ascii_letters + string.digits + ".:/_-~ +&=%é", min_size=1, max_size=20)
params = st.dictionaries(st.sampled_from(["symbol", "newClientOrderId", "price", "quantity", "note"]), values,
                         min_size=1)


@given(params)
def test_what_the_sdk_signs_over_rest_verifies(sent: dict[str, str]) -> None:
    payload = encoded_string({**sent, "timestamp": 1})
    verify_rest(f"{payload}&signature={hmac_hashing(SECRET, payload)}", KEY)


@given(params)
def test_a_signature_over_the_unencoded_payload_fails_whenever_encoding_changes_it(sent: dict[str, str]) -> None:
    payload = encoded_string({**sent, "timestamp": 1})
    raw = "&".join(f"{k}={v}" for k, v in {**sent, "timestamp": 1}.items())
    signature = hmac.new(SECRET.encode(), raw.encode(), hashlib.sha256).hexdigest()
    if raw == payload:
        verify_rest(f"{payload}&signature={signature}", KEY)
    else:
        with pytest.raises(BinanceError) as refused:
            verify_rest(f"{payload}&signature={signature}", KEY)
        assert refused.value.code == -1022


@given(params)
def test_what_the_sdk_signs_over_the_ws_api_verifies_and_a_changed_value_does_not(sent: dict[str, str]) -> None:
    class Config:
        api_key = "key"
        api_secret = SECRET
        private_key = None

    signed = dict(websocket_api_signature(Config(), dict(sent)))
    verify_ws(signed, KEY)
    name = next(iter(sent))
    with pytest.raises(BinanceError) as refused:
        verify_ws({**signed, name: signed[name] + "x"}, KEY)
    assert refused.value.code == -1022


class _KeyConfig:
    """What the SDK's signing functions read from a configuration with a private key."""

    api_key = "key"
    api_secret = None

    def __init__(self, private_key: str) -> None:
        self.private_key = private_key


@pytest.mark.parametrize("pair", [ed25519_key_pair, rsa_key_pair], ids=["ed25519", "rsa"])
@given(sent=params)
def test_what_the_sdk_signs_with_a_private_key_verifies_on_both_transports(pair, sent: dict[str, str]) -> None:
    private, public = pair()
    config, signer, key = _KeyConfig(private), Signers.get_signer(private), PublicKeyVerifier.from_pem(public)
    payload = encoded_string({**sent, "timestamp": 1})
    signature = get_signature(config, payload, signer)
    verify_rest(encoded_string({**sent, "timestamp": 1, "signature": signature}), key)  # as send_request sends it
    signed = dict(websocket_api_signature(config, dict(sent), signer))
    verify_ws(signed, key)
    name = next(iter(sent))
    with pytest.raises(BinanceError) as refused:
        verify_ws({**signed, name: signed[name] + "x"}, key)
    assert refused.value.code == -1022


@given(params)
def test_an_ed25519_signature_over_the_unencoded_payload_fails_whenever_encoding_changes_it(
        sent: dict[str, str]) -> None:
    private, public = ed25519_key_pair()
    raw = "&".join(f"{k}={v}" for k, v in {**sent, "timestamp": 1}.items())
    signature = get_signature(_KeyConfig(private), raw, Signers.get_signer(private))
    total = encoded_string({**sent, "timestamp": 1, "signature": signature})
    if raw == encoded_string({**sent, "timestamp": 1}):
        verify_rest(total, PublicKeyVerifier.from_pem(public))
    else:
        with pytest.raises(BinanceError) as refused:
            verify_rest(total, PublicKeyVerifier.from_pem(public))
        assert refused.value.code == -1022


def test_a_signature_by_another_key_is_refused() -> None:
    private, _ = ed25519_key_pair()
    _, other_public = ed25519_key_pair(1)
    payload = encoded_string({"symbol": "BTCUSDT", "timestamp": 1})
    signature = get_signature(_KeyConfig(private), payload, Signers.get_signer(private))
    with pytest.raises(BinanceError) as refused:
        verify_rest(encoded_string({"symbol": "BTCUSDT", "timestamp": 1, "signature": signature}),
                    PublicKeyVerifier.from_pem(other_public))
    assert refused.value.code == -1022
