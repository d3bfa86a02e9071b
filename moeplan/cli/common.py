"""The typer app, its error policy and the options the commands share.

Exit codes: 0 ok; 1 a budget exceeded or nothing fits; 2 bad input (MoeplanError, usage errors:
one line on stderr); 3 an internal error (any other exception: one line and where to report it,
the traceback only with `--debug` or MOEPLAN_DEBUG=1); 130 interrupted. A crash never exits 1.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from moeplan.errors import MoeplanError

try:  # typer 0.28 vendors click as typer._click and raises its exceptions, whether or not the
    # click package is installed beside it (catching click.ClickException then misses them)
    from typer._click import types as _ct
    from typer._click.exceptions import ClickException as _CliProblem
except ImportError:  # pragma: no cover - older typer raises click's own exceptions
    from click import types as _ct  # type: ignore[no-redef,unused-ignore]
    from click.exceptions import ClickException as _CliProblem  # type: ignore[assignment,no-redef,unused-ignore]


class _Group(TyperGroup):
    """Runs every command with one error policy: one line on stderr, exit code by kind."""

    def main(  # type: ignore[override]  # click's overloads; same call shape
        self,
        args: Any = None,
        prog_name: Any = None,
        complete_var: Any = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            _check_domains(self)
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except MoeplanError as exc:
            rv = _fail(str(exc), exc.exit_code)
        except _CliProblem as exc:
            ctx = getattr(exc, "ctx", None)
            if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
                sys.stdout.write(ctx.get_help() + "\n")
                rv = 2
            else:
                message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
                rv = _fail(message.replace("\n", " "), getattr(exc, "exit_code", 2))
        except (typer.Abort, KeyboardInterrupt):
            rv = _fail("interrupted", 130)
        except OSError as exc:  # the file system refused a path the user gave (too long a
            # name, no permission, a device error): their environment, not a moeplan bug
            rv = _fail(_os_error(exc), 2)
        except Exception as exc:  # an internal error: never exit 1, which CI reads as a verdict
            rv = _internal_error(exc)
        if standalone_mode:
            sys.exit(rv or 0)
        return rv


MAX_GPUS = 4096
"""The largest GPU count any option accepts (--gpus, --max-gpus, TP/EP/PP/DP, --nodes): above the
largest deployments published (NVL72 racks x tens), and small enough that searches answer fast."""
MAX_COUNT = 1 << 31
"""The largest value any other integer option accepts (tokens, batch, repeats)."""
MAX_FLOAT = 1e9
"""The largest value a float option accepts unless DOMAINS says: above every physical quantity
an option names (GB/s, GB, ms, tokens/s, USD per GPU-hour), and small enough that no product of
a few of them overflows to infinity."""
# option -> (low, high, low is included); every other float option must be in [0, MAX_FLOAT]
DOMAINS: dict[str, tuple[float, float, bool]] = {
    "--usable-fraction": (0.0, 1.0, False),
    "--mtp-acceptance": (0.0, 1.0, True),
    **dict.fromkeys(
        ("--gpus", "--max-gpus", "--tp", "--ep", "--pp", "--dp", "--nodes"), (1, MAX_GPUS, True)
    ),
    "--top-k": (0, (1 << 31) - 1, True),  # llama.cpp's top_k is an int32
}
CASE_FREE = {
    "--kv-quant",
    "--state-dtype",
    "--quant",
    "--engine",
    "--format",
    "--device",
    "--sampler-era",
}


def _check_domains(group: Any) -> None:
    """Give every option of every command its domain, once, at the edge: floats finite and in
    range, integers bounded, dtype/format names case-free. Out of range is a usage error (2)."""

    def visit(command: Any) -> None:
        for sub in getattr(command, "commands", {}).values():
            visit(sub)
        for param in command.params:
            name = max(param.opts, key=len) if param.opts else ""
            if isinstance(param.type, _ct.FloatParamType):
                param.type = _Finite(*DOMAINS.get(name, (0.0, MAX_FLOAT, True)))
            elif type(param.type) is _ct.IntParamType:
                low, high, _ = DOMAINS.get(name, (-MAX_COUNT, MAX_COUNT, True))
                param.type = _Bounded(int(low), int(high))
            elif type(param.type) is _ct.StringParamType and param.param_type_name == "option":
                param.type = _Text(lower=name in CASE_FREE)

    visit(group)


class _Finite(_ct.FloatParamType):
    """A float option that must be finite and within [low or (low, high]."""

    def __init__(self, low: float, high: float, low_ok: bool) -> None:
        self.low, self.high, self.low_ok = low, high, low_ok

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        number = super().convert(value, param, ctx)
        name = _name(param)
        if not math.isfinite(number):
            raise MoeplanError(f"{name} must be a finite number, got {value}")
        below = number < self.low or (number == self.low and not self.low_ok)
        if below or number > self.high:
            raise MoeplanError(f"{name} must be {self._domain()}, got {number:g}")
        return number

    def _domain(self) -> str:
        """The domain in words: 'in [0, 1]', or 'at least 0' where there is no finite ceiling
        (infinity itself is refused above, so '[0, inf]' would misstate it)."""
        if math.isinf(self.high):
            return f"{'at least' if self.low_ok else 'above'} {self.low:g}"
        return f"in {'[' if self.low_ok else '('}{self.low:g}, {self.high:g}]"


class _Bounded(_ct.IntParamType):
    """An integer option within [low, high] (counts of GPUs, tokens, sequences)."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        try:
            number = int(value)
        except (TypeError, ValueError):
            bounds = f" from {self.low} to {self.high}" if self.high < MAX_COUNT else ""
            raise MoeplanError(
                f"{_name(param)} must be a whole number{bounds}, got {str(value)[:40]!r}"
            ) from None
        if not self.low <= number <= self.high:
            what = f"at most {self.high}" if number > self.high else f"at least {self.low}"
            raise MoeplanError(f"{_name(param)} must be {what}, got {number}")
        return number


def _name(param: Any) -> str:
    return max(param.opts, key=len) if getattr(param, "opts", None) else str(param.name)


class _Text(_ct.StringParamType):
    """A text option: never empty; a dtype, quantization, engine or format name is case-free."""

    def __init__(self, lower: bool) -> None:
        self.lower = lower

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        text = str(super().convert(value, param, ctx))
        if not text.strip():
            raise MoeplanError(f"{_name(param)} must not be empty")
        return text.lower() if self.lower else text


def _fail(message: str, code: int) -> int:
    message = message.replace("\r", "\\r").replace("\n", "\\n")  # one line, always
    sys.stderr.write(f"moeplan: error: {message}\n")
    return code


REPORT_TO = "the moeplan issue tracker"
EXIT_CODES = (
    "Exit codes: 0 ok; 1 a budget exceeded or nothing fits; 2 bad input; 3 internal error "
    "(--debug or MOEPLAN_DEBUG=1 for the traceback)."
)
_debug = False


def _os_error(exc: OSError) -> str:
    """One line naming the path (shortened) and the system's reason."""
    name = str(exc.filename or "")
    name = name if len(name) <= 80 else f"{name[:60]}...({len(name)} characters)"
    reason = exc.strerror or " ".join(str(exc).split())[:120] or type(exc).__name__
    return f"{name}: {reason}" if name else reason


def _internal_error(exc: BaseException) -> int:
    if _debug or os.environ.get("MOEPLAN_DEBUG", "") not in ("", "0"):
        import traceback

        traceback.print_exception(exc)
    what = " ".join(str(exc).split())[:200]
    where = f": {what}" if what else ""
    return _fail(
        f"internal error ({type(exc).__name__}{where}); please report it to {REPORT_TO} "
        "with the command line (--debug shows the traceback)",
        3,
    )


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Capacity planner and profiler for Mixture-of-Experts language models.",
    epilog=EXIT_CODES,
)


def _print_version(value: bool) -> None:
    if value:
        from moeplan import __version__

        sys.stdout.write(f"moeplan {__version__}\n")
        raise typer.Exit()


@app.callback()
def _global_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback of an internal error.")
    ] = False,
) -> None:
    """Capacity planner and profiler for Mixture-of-Experts language models."""
    global _debug
    _debug = debug


# Shared options, declared once.
ModelArg = Annotated[
    str,
    typer.Argument(
        help="Catalog id/alias, a config.json or checkpoint folder (safetensors), a .gguf file, "
        "or a Hugging Face repo id (org/name; hf:org/name reads the Hub even for a catalog name)."
    ),
]
RevisionOpt = Annotated[
    str | None, typer.Option("--revision", help="Hub revision (branch, tag or commit).")
]
FromHubOpt = Annotated[
    bool, typer.Option("--from-hub", help="Read MODEL from the Hugging Face Hub (as hf:MODEL).")
]
QuantOpt = Annotated[
    str | None,
    typer.Option(
        "--quant",
        "-q",
        help="Quantization scheme "
        "(see `moeplan list quants`), 'native', or a mix like 'bf16,experts=mxfp4'.",
    ),
]
KvQuantOpt = Annotated[
    str,
    typer.Option(
        "--kv-quant",
        help="KV cache dtype: bf16, fp16, fp8, int8, fp32; llama.cpp's -ctk/-ctv types q8_0, "
        "q5_1, q5_0, q4_1, q4_0, iq4_nl.",
    ),
]
ContextOpt = Annotated[
    int, typer.Option("--context", help="Tokens per sequence held in the KV cache.")
]
BatchOpt = Annotated[int, typer.Option("--batch", help="Concurrent sequences.")]
GpuOpt = Annotated[
    str | None, typer.Option("--gpu", help="GPU id (see `moeplan list gpus`) or a GPU YAML file.")
]
GpusOpt = Annotated[int | None, typer.Option("--gpus", help="Number of GPUs.")]
TpOpt = Annotated[int | None, typer.Option("--tp", help="Tensor-parallel size.")]
EpOpt = Annotated[int | None, typer.Option("--ep", help="Expert-parallel size.")]
PpOpt = Annotated[int | None, typer.Option("--pp", help="Pipeline-parallel size.")]
DpOpt = Annotated[
    int | None, typer.Option("--dp", help="Attention data-parallel groups (with EP = TP x DP).")
]
FractionOpt = Annotated[
    float, typer.Option("--usable-fraction", help="Fraction of GPU memory the engine may use.")
]
StateDtypeOpt = Annotated[
    str,
    typer.Option(
        "--state-dtype",
        help="Linear-attention / Mamba recurrent state dtype: fp32 (vLLM's default for "
        "Mamba SSM state), bf16, fp16.",
    ),
]
RoutingSkewOpt = Annotated[
    float | None,
    typer.Option(
        "--routing-skew",
        help="Spread (std / mean) of the tokens each routed expert gets in a step; prices the "
        "busiest expert-parallel rank. Default 1.28, DeepSeek-R1 without EPLB (TensorRT-LLM "
        "tech blog 4, Table 1); 0 = uniform routing; at most sqrt(E/k - 1), every token "
        "picking the same k of E experts.",
    ),
]
TextOnlyOpt = Annotated[
    bool,
    typer.Option("--text-only", help="Leave vision/audio towers out of the weight memory."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
FormatOpt = Annotated[str, typer.Option("--format", help="table, json or markdown.")]
CalibrationOpt = Annotated[
    str | None,
    typer.Option("--calibration", help="Calibration file written by `moeplan profile`."),
]


def output_format(fmt: str, as_json: bool) -> str:
    from moeplan.cli.render import FORMATS

    if as_json:
        if fmt not in ("table", "json"):  # table is the default: --json alone changes it
            raise MoeplanError(f"--json and --format {fmt} ask for two formats: give one")
        return "json"
    if fmt not in FORMATS:
        raise MoeplanError(f"unknown --format '{fmt}' (choose from {', '.join(FORMATS)})")
    return fmt


def positive(name: str, value: float | None, allow_zero: bool = False) -> None:
    if value is not None and (
        not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero)
    ):
        raise MoeplanError(f"--{name} must be positive, got {value}")


def int_list(text: str, name: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise MoeplanError(f"--{name} must be comma-separated integers, got '{text}'") from None
    if not values or any(v < 1 for v in values):
        raise MoeplanError(f"--{name} values must be positive integers, got '{text}'")
    if any(v >= MAX_COUNT for v in values) or len(values) > 64:
        raise MoeplanError(f"--{name}: at most 64 values, each below {MAX_COUNT}, got '{text}'")
    return values


def split_schemes(text: str) -> list[str]:
    """'int4,bf16,experts=mxfp4' -> ['int4', 'bf16,experts=mxfp4']: a GROUP=FORMAT item
    belongs to the scheme before it."""
    names: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if "=" in item and names:
            names[-1] += f",{item}"
        elif item:
            names.append(item)
    return names


EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Overhead/efficiency profile: ideal, vllm, vllm-v0, sglang, sglang-fi, trtllm, "
        "trtllm-0.9, llamacpp.",
    ),
]
InputOpt = Annotated[int, typer.Option("--input", help="Prompt tokens per sequence.")]
OutputOpt = Annotated[int, typer.Option("--output", help="Generated tokens per sequence.")]
