"""BIP-39 / BIP-44 derivation: known vectors, fresh mnemonics, and errors that never echo words."""

from __future__ import annotations

import pytest
from eth_account import Account

from wallet.errors import InvalidKeyMaterial
from wallet.hd import derivation_path, derive_account, new_mnemonic, normalize_mnemonic

DEV_MNEMONIC = "test test test test test test test test test test test junk"
# Anvil / Hardhat dev accounts 0-2: a public test vector of m/44'/60'/0'/0/i.
DEV_ADDRESSES = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_derive_account_matches_known_vectors(index: int) -> None:
    assert derive_account(DEV_MNEMONIC, index).address == DEV_ADDRESSES[index]


def test_derivation_path_is_bip44_ethereum() -> None:
    assert derivation_path(7) == "m/44'/60'/0'/0/7"
    with pytest.raises(InvalidKeyMaterial, match="out of range"):
        derivation_path(-1)
    with pytest.raises(InvalidKeyMaterial, match="out of range"):
        derivation_path(2**31)


def test_same_as_eth_account_for_a_fresh_mnemonic() -> None:
    words = new_mnemonic()
    assert len(words.split()) == 24
    Account.enable_unaudited_hdwallet_features()
    for index in (0, 5):
        expected = Account.from_mnemonic(words, account_path=f"m/44'/60'/0'/0/{index}").address
        assert derive_account(words, index).address == expected


def test_new_mnemonics_differ_and_validate() -> None:
    a, b = new_mnemonic(12), new_mnemonic(12)
    assert a != b
    assert normalize_mnemonic(a) == a
    with pytest.raises(InvalidKeyMaterial, match="12, 15, 18, 21 or 24"):
        new_mnemonic(13)


def test_spacing_and_case_are_normalised() -> None:
    messy = "  TEST test\ttest test test test test test test test test   Junk \n"
    assert normalize_mnemonic(messy) == DEV_MNEMONIC
    assert derive_account(messy, 0).address == DEV_ADDRESSES[0]


def test_wrong_word_count_is_explained() -> None:
    with pytest.raises(InvalidKeyMaterial, match="has 11 words"):
        derive_account(" ".join(DEV_MNEMONIC.split()[:11]), 0)


def test_unknown_word_gives_its_position_not_the_word() -> None:
    typo = "jun" + "ky"
    with pytest.raises(InvalidKeyMaterial) as err:
        derive_account(DEV_MNEMONIC.replace("junk", typo), 0)
    assert "position 12" in str(err.value)
    assert typo not in str(err.value)


def test_bad_checksum_is_explained_without_words() -> None:
    bad = " ".join(["test"] * 12)
    with pytest.raises(InvalidKeyMaterial) as err:
        derive_account(bad, 0)
    assert "checksum" in str(err.value)
    assert "test" not in str(err.value)
