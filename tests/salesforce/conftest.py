"""One Salesforce emulator on a real port for the whole directory, reset before each test, and clients
with fast retries and polling that talk to it over HTTP."""

import datetime as dt
from collections.abc import Iterator

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from cmsync.clients.salesforce import PollPolicy, RefreshTokenAuth, RetryPolicy, SalesforceClient
from cmsync_sandbox.salesforce import SalesforceEmulator
from cmsync_sandbox.server import SandboxServer

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
REFRESH_TOKEN = "sandbox-refresh-token"
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.002, max_delay=0.01, limit_attempts=2, limit_delay=0.002)
FAST_POLL = PollPolicy(initial=0.01, maximum=0.05, factor=1.5, timeout=30)


class KeyPair:
    """An RSA key and a self-signed certificate for it, as a connected app holds the certificate."""

    def __init__(self, common_name: str = "cmsync test") -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )
        self.certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
        self.private_pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


@pytest.fixture(scope="session")
def key_pair() -> KeyPair:
    return KeyPair()


@pytest.fixture(scope="session")
def emulator(key_pair: KeyPair) -> Iterator[SalesforceEmulator]:
    org = SalesforceEmulator(jwt_certificate=key_pair.certificate_pem, bulk_step_seconds=0.01, bulk_chunk_size=50)
    yield org
    org.close()


@pytest.fixture(scope="session")
def server(emulator: SalesforceEmulator) -> Iterator[SandboxServer]:
    with emulator.serve() as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_org(emulator: SalesforceEmulator) -> None:
    emulator.reset()


def make_client(url, **options) -> SalesforceClient:
    """A client of the sandbox's refresh-token credentials, with fast retries and polling."""
    auth = RefreshTokenAuth(url, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
    return SalesforceClient(url, auth, **{"retry": FAST_RETRY, "poll": FAST_POLL, **options})


@pytest.fixture
def client(server: SandboxServer) -> Iterator[SalesforceClient]:
    salesforce = make_client(server.url)
    yield salesforce
    salesforce.close()


@pytest.fixture
def token(server: SandboxServer) -> str:
    """An access token from the refresh-token grant, for tests that speak plain HTTP."""
    response = requests.post(
        f"{server.url}/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
        },
        timeout=10,
    )
    response.raise_for_status()
    access_token: str = response.json()["access_token"]
    return access_token


@pytest.fixture
def api(server: SandboxServer, token: str) -> Iterator[tuple[requests.Session, str]]:
    """A session signed in with the refresh-token grant, and the REST base URL."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    yield session, f"{server.url}/services/data/v61.0"
    session.close()
