"""Bias constructions: exact group counts, colouring, corruptions, one split at a time."""
