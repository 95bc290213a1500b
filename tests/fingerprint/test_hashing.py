"""Each structured kind hashes in its own BLAKE3 domain, apart from files and from each other."""

from __future__ import annotations

import blake3

from threadline.fingerprint import hashing


def test_every_kind_has_its_own_versioned_context() -> None:
    contexts = {name: value for name, value in vars(hashing).items() if name.startswith("CTX_")}
    assert len(set(contexts.values())) == len(contexts) == 13
    assert all(value.startswith("threadline fingerprint v1 ") for value in contexts.values())


def test_a_hasher_is_plain_blake3_without_a_context_and_derive_key_with_one() -> None:
    plain = hashing.new_hasher(size_hint=2 << 20)
    plain.update(b"x")
    assert plain.hexdigest() == blake3.blake3(b"x").hexdigest()
    keyed = hashing.new_hasher(hashing.CTX_DIRECTORY)
    keyed.update(b"x")
    expected = blake3.blake3(b"x", derive_key_context=hashing.CTX_DIRECTORY).hexdigest()
    assert keyed.hexdigest() == expected
    assert hashing.u64(1) == b"\x01" + bytes(7)
