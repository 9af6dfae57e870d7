"""BIP-39 mnemonics and BIP-44 derivation: one operator seed gives every agent its key at
m/44'/60'/0'/0/i (the path MetaMask, Foundry and geth use for account i).

English mnemonics only. Errors say which word positions are wrong, never the words: a mnemonic is a
secret, and error lines end up in logs.
"""

from __future__ import annotations

from eth_account import Account
from eth_account.hdaccount import key_from_seed
from eth_account.hdaccount.mnemonic import Mnemonic
from eth_account.signers.local import LocalAccount
from eth_account.types import Language

from wallet.errors import InvalidKeyMaterial

VALID_WORD_COUNTS = (12, 15, 18, 21, 24)
MAX_INDEX = 2**31 - 1  # non-hardened child indices


def derivation_path(index: int) -> str:
    """The BIP-44 Ethereum path of account `index`."""
    if not 0 <= index <= MAX_INDEX:
        raise InvalidKeyMaterial(f"HD index {index} is out of range: use 0 … {MAX_INDEX}")
    return f"m/44'/60'/0'/0/{index}"


def new_mnemonic(words: int = 24) -> str:
    """A fresh random English mnemonic (24 words = 256 bits of entropy by default)."""
    if words not in VALID_WORD_COUNTS:
        raise InvalidKeyMaterial(f"a mnemonic has 12, 15, 18, 21 or 24 words, not {words}")
    return Mnemonic(Language.ENGLISH).generate(words)


def normalize_mnemonic(mnemonic: str) -> str:
    """The mnemonic as single-spaced lowercase words, checked against the BIP-39 English list and
    checksum. Raises InvalidKeyMaterial that names the problem but never a word."""
    words = mnemonic.lower().split()
    if len(words) not in VALID_WORD_COUNTS:
        raise InvalidKeyMaterial(
            f"the mnemonic has {len(words)} words but BIP-39 uses 12, 15, 18, 21 or 24: "
            "check it was copied whole"
        )
    wordlist = Mnemonic(Language.ENGLISH).wordlist
    known = set(wordlist)
    bad = [str(i + 1) for i, w in enumerate(words) if w not in known]
    if bad:
        raise InvalidKeyMaterial(
            f"mnemonic word(s) at position {', '.join(bad)} are not in the BIP-39 English word list: "
            "check the spelling"
        )
    phrase = " ".join(words)
    if not Mnemonic(Language.ENGLISH).is_mnemonic_valid(phrase):
        raise InvalidKeyMaterial(
            "the mnemonic's BIP-39 checksum does not match: a word is wrong or the order is changed"
        )
    return phrase


def derive_private_key(mnemonic: str, index: int) -> bytes:
    """The 32-byte private key of account `index` (no BIP-39 passphrase, as wallets do by default)."""
    phrase = normalize_mnemonic(mnemonic)
    seed = Mnemonic.to_seed(phrase, "")
    return key_from_seed(seed, derivation_path(index))


def derive_account(mnemonic: str, index: int) -> LocalAccount:
    """The account at m/44'/60'/0'/0/`index` of `mnemonic` (~3 ms)."""
    account: LocalAccount = Account.from_key(derive_private_key(mnemonic, index))
    return account
