"""Proving nothing was altered: the hash chain, Merkle checkpoints and their signatures."""
