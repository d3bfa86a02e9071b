"""Project errors. The CLI maps each to one line on stderr and an exit code."""

from __future__ import annotations


class MoeplanError(Exception):
    """Bad input: an unknown name, an invalid file or field. Exit code 2."""

    exit_code = 2


class SpecError(MoeplanError):
    """A model spec or config.json that cannot be understood."""


class UnknownNameError(MoeplanError):
    """An unknown model, GPU or quantization id; carries the closest names."""

    def __init__(self, kind: str, name: str, suggestions: list[str]) -> None:
        hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown {kind} '{name}'{hint}")
        self.kind = kind
        self.name = name
        self.suggestions = suggestions


class LayoutError(MoeplanError):
    """A parallel layout that does not divide the model or does not fit the GPUs."""


class CalibrationError(MoeplanError):
    """A calibration file that is invalid or belongs to another device."""


class ProfileUnavailable(MoeplanError):
    """profile cannot run here (no torch, no CUDA) and no CPU fallback was asked for."""
