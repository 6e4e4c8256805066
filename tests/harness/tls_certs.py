"""Certificates made in the test, with `cryptography`: a private CA and leaf certificates it
signs for given names (expired, or with another key, when a test needs one)."""
from __future__ import annotations

import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = datetime.datetime.now(datetime.timezone.utc)


def _pem_key(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class CertAuthority:
    def __init__(self, name="jqgate test CA"):
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(NOW - datetime.timedelta(days=1))
                     .not_valid_after(NOW + datetime.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                     .sign(self.key, hashes.SHA256()))
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def leaf(self, *names: str, expired: bool = False) -> tuple[str, str]:
        """(cert PEM, key PEM) for `names` (the first is the common name)."""
        key = ec.generate_private_key(ec.SECP256R1())
        end = NOW - datetime.timedelta(days=1) if expired else NOW + datetime.timedelta(days=10)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(NOW - datetime.timedelta(days=2)).not_valid_after(end)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                               False)
                .sign(self.key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key)

    def leaf_files(self, directory, *names: str) -> tuple[str, str]:
        cert, key = self.leaf(*names)
        base = os.path.join(str(directory), names[0].replace("*", "star"))
        with open(base + ".crt", "w") as f:
            f.write(cert)
        with open(base + ".key", "w") as f:
            f.write(key)
        return base + ".crt", base + ".key"

    def ca_file(self, directory) -> str:
        path = os.path.join(str(directory), "ca.pem")
        with open(path, "w") as f:
            f.write(self.pem)
        return path


def common_name(der: bytes) -> str:
    """The subject CN of a DER certificate (what a client was served)."""
    cert = x509.load_der_x509_certificate(der)
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def x509_der(cert_pem: str) -> bytes:
    """The DER form of a PEM certificate (what ssl's getpeercert(binary_form=True) returns)."""
    return x509.load_pem_x509_certificate(cert_pem.encode()).public_bytes(
        serialization.Encoding.DER)
