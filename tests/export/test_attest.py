"""threadline attest: the model's provenance as an in-toto Statement v1 / SLSA Provenance v1
in a DSSE envelope, verified with the reference libraries (securesystemslib, in-toto), not
only with threadline's own code."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from in_toto.models.metadata import Envelope as InTotoEnvelope  # type: ignore[import-untyped]
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey  # type: ignore[attr-defined]
from tests.support.graphs import context, run_event
from typer.testing import CliRunner

from threadline.cli import app
from threadline.errors import IntegrityError, NotFound, UsageError
from threadline.fingerprint import fingerprint_file
from threadline.integrity.dsse import open_envelope
from threadline.integrity.signing import SigningKey
from threadline.model.ids import local_host
from threadline.store import open_store

COMMIT = "c0ffee" + "0" * 34


def node(path: Path, kind: str) -> dict[str, Any]:
    return {
        "namespace": f"file://{local_host()}",
        "name": str(path),
        "facets": {
            "threadline_artifact": {"kind": kind},
            "version": {"datasetVersion": fingerprint_file(path, cache=None)},
        },
    }


@pytest.fixture
def pipeline(tmp_path: Path) -> tuple[Path, Path, Path]:
    """raw.csv → features (commit C, params) → model.pkl, recorded with real fingerprints."""
    raw, features, model = tmp_path / "raw.csv", tmp_path / "features.parquet", tmp_path / "m.pkl"
    raw.write_text("a,b\n1,2\n")
    features.write_bytes(b"features")
    model.write_bytes(b"\x80\x04model bytes")
    db = tmp_path / "lineage.db"
    with open_store(db) as store:
        store.append_batch(
            [
                run_event(
                    "featurize",
                    "00000000-0000-7000-8000-000000000001",
                    [node(raw, "dataset")],
                    [node(features, "features")],
                    when="2026-01-01T00:00:00Z",
                    execution="ex:f1",
                    ctx=context(commit=COMMIT),
                    params={"window": 7},
                ),
                run_event(
                    "train",
                    "00000000-0000-7000-8000-000000000002",
                    [node(features, "features")],
                    [node(model, "model")],
                    when="2026-01-02T00:00:00Z",
                    execution="ex:t1",
                    ctx=context(commit=COMMIT),
                    params={"C": 0.5, "penalty": "l2"},
                ),
            ]
        )
    key = SigningKey.generate()
    key.save(tmp_path / "log.key")
    return db, model, tmp_path / "log.key"


def crypto_key(key: SigningKey) -> Any:
    """The public key as the cryptography object securesystemslib takes."""
    return serialization.load_pem_public_key(key.verifying_key.to_pem())


def attest(db: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--store", str(db), "attest", *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_envelope_verifies_with_securesystemslib_and_in_toto(
    pipeline: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    db, model, key_path = pipeline
    out = tmp_path / "m.intoto.json"
    code, stdout, err = attest(db, str(model), "--key", str(key_path), "--out", str(out))
    assert code == 0, err
    assert stdout.startswith(f"✓ signed provenance of {model} written to {out}")

    def document() -> dict[str, Any]:
        # A fresh copy each time: securesystemslib's from_dict changes the dict it reads.
        loaded: dict[str, Any] = orjson.loads(out.read_bytes())
        return loaded

    key = SigningKey.load(key_path)
    public = SSlibKey.from_crypto(crypto_key(key))  # the library derives its own key id
    envelope = Envelope.from_dict(document())
    assert envelope.payload_type == "application/vnd.in-toto+json"
    assert public.keyid in envelope.verify([public], 1)
    assert InTotoEnvelope.from_dict(document()).verify([public], 1)
    # Another key does not verify it; neither does an altered payload.
    stranger = SSlibKey.from_crypto(crypto_key(SigningKey.generate()))
    with pytest.raises(VerificationError):
        Envelope.from_dict(document()).verify([stranger], 1)
    forged = base64.b64encode(b'{"_type":"x"}').decode()
    with pytest.raises(VerificationError):
        Envelope.from_dict(document() | {"payload": forged}).verify([public], 1)
    with pytest.raises(IntegrityError, match="no signature of the envelope verifies"):
        open_envelope(document() | {"payload": forged}, key.verifying_key)
    assert open_envelope(document(), key.verifying_key)[0] == "application/vnd.in-toto+json"

    statement = orjson.loads(envelope.payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    [subject] = statement["subject"]
    assert subject["name"] == "m.pkl"
    assert subject["digest"] == {
        "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
        "blake3": fingerprint_file(model, cache=None).removeprefix("b3:"),
    }
    build = statement["predicate"]["buildDefinition"]
    assert build["externalParameters"]["job"].endswith("/train")
    assert build["externalParameters"]["parameters"] == {"C": 0.5, "penalty": "l2"}
    dependencies = build["resolvedDependencies"]
    names = [d.get("name") for d in dependencies]
    digests = [d.get("digest", {}) for d in dependencies]
    # Every upstream data version, by its content digest.
    for path in ("features.parquet", "raw.csv"):
        b3 = fingerprint_file(tmp_path / path, cache=None).removeprefix("b3:")
        assert {"blake3": b3} in digests, path
    # Each job's code commit and parameters (content whose sha256 is the digest).
    assert {"gitCommit": COMMIT} in digests
    assert sum(1 for n in names if n and n.startswith("code of ")) == 2
    params = [d for d in dependencies if str(d.get("name")).startswith("parameters of ")]
    assert [p["annotations"]["parameters"] for p in params] == [
        {"C": 0.5, "penalty": "l2"},
        {"window": 7},
    ]
    for item in params:
        content = base64.b64decode(item["content"])
        assert hashlib.sha256(content).hexdigest() == item["digest"]["sha256"]
    run = statement["predicate"]["runDetails"]
    assert run["builder"]["id"] == "https://github.com/threadline-dev/threadline"
    assert run["metadata"]["invocationId"] == "00000000-0000-7000-8000-000000000002"


def test_attest_errors(pipeline: tuple[Path, Path, Path], tmp_path: Path) -> None:
    db, model, key_path = pipeline
    stranger = tmp_path / "unrecorded.pkl"
    stranger.write_bytes(b"never recorded")
    code, _out, err = attest(db, str(stranger), "--key", str(key_path))
    assert code == NotFound.exit_code, err
    code, _out, err = attest(db, str(tmp_path), "--key", str(key_path))
    assert code == UsageError.exit_code
    assert "is not a file: threadline attest signs one model file's digest" in err
    code, _out, err = attest(db, str(model), "--key", str(tmp_path / "missing.key"))
    assert code == UsageError.exit_code
    assert "does not exist" in err
