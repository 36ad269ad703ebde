#!/usr/bin/env python3
"""Test certificates for the TLS interop checks, made with the `cryptography` package (a second,
independent X.509 implementation next to the Rust tests' rcgen). Never committed keys.

  pki.py DIR        writes DIR/ca.pem, DIR/ca.key, DIR/server.pem, DIR/server.key

Client certificates are made at run time with `client(dir, cn, kind)`.
"""

import datetime
import ipaddress
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _ca(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(cn, ca_cert, ca_key, usage, sans=None, expired=False):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = (
        (now - datetime.timedelta(days=400), now - datetime.timedelta(days=35))
        if expired
        else (now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))
    )
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(ca_key, hashes.SHA256()), key


def _write(dir_, name, cert, key):
    (dir_ / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (dir_ / f"{name}.key").write_bytes(_pem_key(key))
    return dir_ / f"{name}.pem", dir_ / f"{name}.key"


def create(dir_):
    dir_ = Path(dir_)
    dir_.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = _ca("csms interop test CA")
    _write(dir_, "ca", ca_cert, ca_key)
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert, key = _leaf("localhost", ca_cert, ca_key, ExtendedKeyUsageOID.SERVER_AUTH, sans)
    _write(dir_, "server", cert, key)


def client(dir_, cn, kind="valid"):
    """A client certificate for `cn`: "valid", "expired", or "foreign" (another CA).
    Returns (cert path, key path)."""
    dir_ = Path(dir_)
    if kind == "foreign":
        ca_cert, ca_key = _ca("someone else's CA")
    else:
        ca_cert = x509.load_pem_x509_certificate((dir_ / "ca.pem").read_bytes())
        ca_key = serialization.load_pem_private_key((dir_ / "ca.key").read_bytes(), None)
    cert, key = _leaf(
        cn, ca_cert, ca_key, ExtendedKeyUsageOID.CLIENT_AUTH, expired=(kind == "expired")
    )
    return _write(dir_, f"client-{cn}-{kind}", cert, key)


if __name__ == "__main__":
    create(sys.argv[1])
