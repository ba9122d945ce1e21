"""Signing keys and keyrings for bundles.

Supported signature schemes (the signature always covers the exact bytes of
``manifest.yaml``; ``manifest.sig`` holds the signature and nothing else):

* Ed25519: ``manifest.sig`` is the raw 64-byte signature.
* ECDSA on P-256 with SHA-256: ``manifest.sig`` is the DER-encoded signature.

A keyring is a PEM file, or a directory of PEM files (``*.pem``, ``*.pub``,
``*.crt``; other names are ignored). Each file may hold several PEM blocks:
public keys (``PUBLIC KEY``) or X.509 certificates (``CERTIFICATE``), whose
public key is used as is. Certificates are not chained to a CA and their
validity dates are not checked: the device clock cannot be trusted at boot,
and trust comes from the keyring being on the read-only root file system.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from .errors import ConfigError, SignatureError
from .manifest import ALGORITHMS

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey

KEYRING_SUFFIXES = (".pem", ".pub", ".crt")
MAX_KEY_FILE = 1024 * 1024

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL)


def _check_supported(key: object, where: str) -> None:
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        if isinstance(key.curve, ec.SECP256R1):
            return
        raise ConfigError(f"{where}: unsupported elliptic curve {key.curve.name} (use P-256)")
    raise ConfigError(f"{where}: unsupported key type {type(key).__name__} (use Ed25519 or P-256)")


def _ecdsa_sha256() -> ec.ECDSA:
    """ECDSA with SHA-256, deterministic (RFC 6979) where cryptography supports it."""
    try:
        return ec.ECDSA(hashes.SHA256(), deterministic_signing=True)  # type: ignore[call-arg]
    except TypeError:  # cryptography < 43
        return ec.ECDSA(hashes.SHA256())


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def generate_keypair(private_out: Path, public_out: Path, algorithm: str = "ed25519") -> PrivateKey:
    """Write a new signing key (PKCS#8 PEM, unencrypted, mode 0600) and its public key (PEM)."""
    if algorithm == "ed25519":
        key: PrivateKey = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == "ecdsa-p256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ConfigError(f"unknown key algorithm {algorithm!r} (expected one of {ALGORITHMS})")
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        _write_private(Path(private_out), private_pem)
        Path(public_out).write_bytes(public_pem)
    except OSError as exc:
        raise ConfigError(f"cannot write key: {exc}") from exc
    return key


def load_private_key(path: Path) -> PrivateKey:
    """Load an unencrypted PEM private key (Ed25519 or ECDSA P-256)."""
    path = Path(path)
    try:
        data = path.read_bytes()
        key = serialization.load_pem_private_key(data, password=None)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read private key: {exc.strerror or exc}") from exc
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path}: not an unencrypted PEM private key: {first}") from exc
    _check_supported(key, str(path))
    return key  # type: ignore[return-value]


def _load_pem_blocks(path: Path) -> list[PublicKey]:
    try:
        if path.stat().st_size > MAX_KEY_FILE:
            raise ConfigError(f"{path}: keyring file larger than {MAX_KEY_FILE} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read keyring: {exc.strerror or exc}") from exc
    keys: list[PublicKey] = []
    for match in _PEM_BLOCK.finditer(data):
        label = match.group(1).decode("ascii")
        block = match.group(0)
        where = f"{path}: {label} block {len(keys) + 1}"
        try:
            if label == "CERTIFICATE":
                key: object = x509.load_pem_x509_certificate(block).public_key()
            elif label == "PUBLIC KEY":
                key = serialization.load_pem_public_key(block)
            else:
                raise ConfigError(
                    f"{where}: unexpected PEM block (expected PUBLIC KEY or CERTIFICATE)"
                )
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"{where}: cannot parse: {first}") from exc
        _check_supported(key, where)
        keys.append(key)  # type: ignore[arg-type]
    return keys


def load_keyring(path: Path) -> list[PublicKey]:
    """Public keys from a PEM file or a directory of PEM files; ConfigError if none."""
    path = Path(path)
    if path.is_dir():
        try:
            files = sorted(
                p for p in path.iterdir() if p.suffix in KEYRING_SUFFIXES and p.is_file()
            )
        except OSError as exc:
            raise ConfigError(f"{path}: cannot list keyring: {exc.strerror or exc}") from exc
    elif path.exists():
        files = [path]
    else:
        raise ConfigError(f"{path}: keyring not found")
    keys: list[PublicKey] = []
    for file in files:
        keys.extend(_load_pem_blocks(file))
    if not keys:
        raise ConfigError(f"{path}: keyring holds no public key or certificate")
    return keys


def key_fingerprint(key: PublicKey | PrivateKey) -> str:
    """SHA-256 over the DER SubjectPublicKeyInfo, in hex: a stable key id for logs."""
    public = key.public_key() if hasattr(key, "private_bytes") else key  # type: ignore[union-attr]
    der = public.public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def sign(private_key: PrivateKey, data: bytes) -> bytes:
    """Signature over data in the bundle's format (raw Ed25519 or DER ECDSA-SHA256)."""
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(data)
    _check_supported(private_key, "signing key")
    return private_key.sign(data, _ecdsa_sha256())


def verify_signature(keys: list[PublicKey], data: bytes, signature: bytes) -> PublicKey:
    """The first key under which signature verifies; SignatureError if none does."""
    if not keys:
        raise SignatureError("keyring is empty: cannot verify the manifest signature")
    for key in keys:
        try:
            if isinstance(key, ed25519.Ed25519PublicKey):
                if len(signature) != 64:
                    continue
                key.verify(signature, data)
            else:
                key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            continue
        return key
    raise SignatureError(
        f"manifest signature does not verify with any of the {len(keys)} keyring key(s)"
    )


def generate_certificate(
    private_key: Path, subject_cn: str, out: Path, days: int = 3650
) -> x509.Certificate:
    """Write a self-signed X.509 certificate (PEM) for the key, usable in a keyring."""
    key = load_private_key(private_key)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = builder.sign(key, algorithm)
    try:
        Path(out).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    except OSError as exc:
        raise ConfigError(f"cannot write certificate: {exc}") from exc
    return cert
