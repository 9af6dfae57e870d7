"""`sova keys new|import|list|show|export` — V3 keystores, readable by geth and Foundry's cast."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runtime.chain.provision import ensure_identity_key
from runtime.cli.common import DEFAULT_CONFIG, ConfigOption, JsonOption, out, print_json, warn
from runtime.errors import SovaError
from runtime.secrets import passphrase, secret_from_env_or_prompt

if TYPE_CHECKING:
    from wallet import KeyInfo, Keystore

app = typer.Typer(help="Create, import, list, show and export wallet keys.", no_args_is_help=True)

DirOption = Annotated[
    Path | None,
    typer.Option("--dir", help="keystore folder (default: $SOVA_HOME/keys or ./.sova/keys)"),
]
PassEnvOption = Annotated[
    str, typer.Option("--passphrase-env", help="environment variable holding the passphrase")
]


def _keystore(directory: Path | None) -> Keystore:
    from wallet import Keystore  # eth-account is slow to import: only when a key is touched

    if directory is None:
        home = os.environ.get("SOVA_HOME")
        directory = (Path(home) if home else Path(".sova")) / "keys"
    return Keystore(directory)


def _new_key_store(passphrase_env: str, directory: Path | None, file: Path) -> tuple[Keystore, str]:
    """Where a new key goes and its passphrase: `--dir` or the project's keys folder, and
    `$passphrase_env` or a prompt — or, for a project on the local chain with the variable unset,
    the development passphrase `sova up` makes and uses (.sova/dev-passphrase, 0600)."""
    if directory is not None or not file.is_file():
        return _keystore(directory), passphrase(passphrase_env, confirm=True)
    from runtime.chain.provision import key_passphrase
    from runtime.cli.common import load
    from runtime.config import LocalChain

    config, home = load(file)
    store = _keystore(home.keys_dir(config, file.parent))
    local = isinstance(config.chain, LocalChain) and config.keys.passphrase_env == passphrase_env
    if os.environ.get(passphrase_env) or not local:
        return store, passphrase(passphrase_env, confirm=True)
    home.ensure()
    return store, key_passphrase(config, home, warn)


def _describe(info: KeyInfo) -> dict[str, str]:
    return {"name": info.name, "address": info.address, "path": str(info.path)}


def _show(info: KeyInfo, as_json: bool, verb: str) -> None:
    if as_json:
        print_json(_describe(info))
    else:
        out.print(f"{verb} {info.name}: {info.address} ({info.path})")


@app.command("new")
def new(
    name: str,
    directory: DirOption = None,
    passphrase_env: PassEnvOption = "SOVA_PASSPHRASE",
    as_json: JsonOption = False,
    file: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Create a new random wallet key and an Ed25519 identity key (its did:key), both encrypted
    with the passphrase (unset on the local chain of agents.yaml: the fleet's development one)."""
    store, secret = _new_key_store(passphrase_env, directory, file)
    info = store.create(name, secret)
    ensure_identity_key(store.directory, name, secret)
    _show(info, as_json, "created")


@app.command("import")
def import_(
    name: str,
    private_key_env: Annotated[
        str | None, typer.Option(help="environment variable holding a 0x private key")
    ] = None,
    mnemonic_env: Annotated[
        str | None, typer.Option(help="environment variable holding a BIP-39 mnemonic")
    ] = None,
    index: Annotated[int, typer.Option(help="HD index i of m/44'/60'/0'/0/i (with a mnemonic)")] = 0,
    directory: DirOption = None,
    passphrase_env: PassEnvOption = "SOVA_PASSPHRASE",
    as_json: JsonOption = False,
) -> None:
    """Import a private key or derive from a mnemonic. Secrets come from the environment or a
    prompt, never from the command line, where other users could read them in `ps`."""
    if (private_key_env is None) == (mnemonic_env is None):
        raise SovaError("give exactly one of --private-key-env VAR or --mnemonic-env VAR")
    store = _keystore(directory)
    if private_key_env is not None:
        key = secret_from_env_or_prompt(private_key_env, "Private key")
        secret = passphrase(passphrase_env, confirm=True)
        info = store.import_private_key(name, key, secret)
    else:
        assert mnemonic_env is not None
        words = secret_from_env_or_prompt(mnemonic_env, "Mnemonic")
        secret = passphrase(passphrase_env, confirm=True)
        info = store.import_mnemonic(name, words, secret, index=index)
    ensure_identity_key(store.directory, name, secret)
    _show(info, as_json, "imported")


@app.command("list")
def list_(directory: DirOption = None, as_json: JsonOption = False) -> None:
    """List keys with their addresses (nothing is decrypted)."""
    infos = _keystore(directory).list()
    if as_json:
        print_json([_describe(i) for i in infos])
        return
    if not infos:
        out.print("no keys yet: create one with `sova keys new NAME`")
    for info in infos:
        out.print(f"{info.name}\t{info.address}")


@app.command("show")
def show(name: str, directory: DirOption = None, as_json: JsonOption = False) -> None:
    """Show one key's address and file (nothing is decrypted)."""
    _show(_keystore(directory).info(name), as_json, "key")


@app.command("export")
def export(
    name: str,
    private_key: Annotated[
        bool, typer.Option("--private-key", help="print the raw private key (asks for the passphrase)")
    ] = False,
    directory: DirOption = None,
    passphrase_env: PassEnvOption = "SOVA_PASSPHRASE",
) -> None:
    """Print the encrypted V3 keystore JSON (import it in geth, cast, MetaMask), or with
    --private-key the raw key — which then is in your terminal: handle with care."""
    store = _keystore(directory)
    if not private_key:
        print_json(store.export_json(name))
        return
    key = store.export_private_key(name, passphrase(passphrase_env))
    warn("printing a raw private key: anyone who sees it controls the wallet")
    out.print(key)
