"""The webhook's self-signed serving certificate (operator/toolfleet/tls.py)."""

from __future__ import annotations

import datetime
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from toolfleet.runtime.tls import self_signed

DNS_HOST = "toolfleet-webhook.toolfleet-system.svc"


def load(certfile: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(certfile.read_bytes())


def alternative_names(cert: x509.Certificate) -> x509.SubjectAlternativeName:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


@pytest.mark.parametrize("host", ["10.96.0.15", "fd00::1", "127.0.0.1"])
def test_an_ip_host_is_the_certificates_ip_address(host: str, tmp_path: Path) -> None:
    certfile, _ = self_signed(host, tmp_path)
    names = alternative_names(load(certfile))
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(host)]
    assert names.get_values_for_type(x509.DNSName) == []


@pytest.mark.parametrize("host", [DNS_HOST, "localhost", "webhook.example.com"])
def test_a_dns_host_is_the_certificates_dns_name(host: str, tmp_path: Path) -> None:
    certfile, _ = self_signed(host, tmp_path)
    names = alternative_names(load(certfile))
    assert names.get_values_for_type(x509.DNSName) == [host]
    assert names.get_values_for_type(x509.IPAddress) == []


def test_the_certificate_is_a_ca_that_validates_itself(tmp_path: Path) -> None:
    # The API server is handed the certificate itself as the webhook's caBundle.
    cert = load(self_signed(DNS_HOST, tmp_path)[0])
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)


def test_the_key_is_the_certificates_and_only_its_owner_may_read_it(tmp_path: Path) -> None:
    certfile, keyfile = self_signed(DNS_HOST, tmp_path / "webhook")
    assert (certfile.name, keyfile.name) == ("tls.crt", "tls.key")
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(keyfile.read_bytes(), password=None)
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(serialization.Encoding.PEM, public) == (
        load(certfile).public_key().public_bytes(serialization.Encoding.PEM, public))


def test_an_existing_readable_key_is_replaced_by_a_private_one(tmp_path: Path) -> None:
    keyfile = tmp_path / "tls.key"
    keyfile.write_text("old")
    keyfile.chmod(0o644)
    _, written = self_signed(DNS_HOST, tmp_path)
    assert written == keyfile
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    assert keyfile.read_text() != "old"


def test_the_certificate_is_valid_now_and_for_the_days_asked(tmp_path: Path) -> None:
    cert = load(self_signed(DNS_HOST, tmp_path, days=30)[0])
    now = datetime.datetime.now(datetime.UTC)
    assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc
    lifetime = cert.not_valid_after_utc - now
    assert datetime.timedelta(days=29) < lifetime <= datetime.timedelta(days=30)
