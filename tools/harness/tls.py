"""A certificate authority and server certificates made per run with the openssl command line."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


def _openssl(*args: str, cwd: Path) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise RuntimeError("openssl is not on PATH: scripts/ensure-apt openssl")
    subprocess.run([binary, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class ServerCert:
    cert: Path
    key: Path
    # certificate and key in one file, the form SecantusDB's and pymongo's client-certificate options accept
    pem: Path


class CertificateAuthority:
    """A throwaway CA in ``directory``: ``ca.pem`` signs every server certificate made by ``server()``."""

    def __init__(self, directory: Path, name: str = "travel_agent test CA") -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.cert = self.directory / "ca.pem"
        self.key = self.directory / "ca.key"
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(self.key),
            "-out",
            str(self.cert),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            cwd=self.directory,
        )

    def server(self, name: str = "server") -> ServerCert:
        """A certificate for 127.0.0.1 and localhost, signed by this CA."""
        key = self.directory / f"{name}.key"
        csr = self.directory / f"{name}.csr"
        cert = self.directory / f"{name}.crt"
        ext = self.directory / f"{name}.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n")
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(csr),
            cwd=self.directory,
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(self.cert),
            "-CAkey",
            str(self.key),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            str(ext),
            "-out",
            str(cert),
            cwd=self.directory,
        )
        pem = self.directory / f"{name}.pem"
        pem.write_bytes(cert.read_bytes() + key.read_bytes())
        return ServerCert(cert=cert, key=key, pem=pem)

    def key_texts(self) -> list[str]:
        """The private keys' base64 bodies, for a scan that proves no key material reached a log."""
        lines: list[str] = []
        for key in sorted(self.directory.glob("*.key")):
            body = [line for line in key.read_text().splitlines() if line and not line.startswith("-----")]
            lines.extend(body[1:3])  # two full lines of each key are unmistakable and never a false hit
        return lines
