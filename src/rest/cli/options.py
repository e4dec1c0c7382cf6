"""Command-line flags generated from the config dataclasses.

Every field of every section of :class:`~rest.config.TrainConfig` becomes one flag
(``sparse.update_frequency`` -> ``--update-frequency``), with the field's help text,
type and choices, so the CLI and the config can never drift apart. Flags left
unset do not override a ``--config`` file.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

from rest.applicability import changed_fields, check_fields_read
from rest.config import TrainConfig, field_types
from rest.errors import RestError
from rest.methods import METHODS

NONE_WORDS = ("auto", "none", "default")


def _number(text: str) -> int | float | str:
    """An int or float as written; other text is passed on as is, so the config check
    (:mod:`rest.validation`) refuses it in one line naming the field and its range."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def _optional(convert: Any) -> Any:
    def parse(text: str) -> Any:
        if text.lower() in NONE_WORDS:
            return None
        return convert(text)

    parse.__name__ = convert.__name__
    return parse


def _is_optional(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _parse_type(annotation: Any) -> tuple[Any, bool]:
    """(converter, is_bool) for a field annotation such as ``float | None``."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    optional = _is_optional(annotation)
    base = args[0] if optional else annotation
    if base is bool:
        return None, True
    if base in (int, float):
        base = _number
    return (_optional(base) if optional else base), False


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--method",
        dest="method",
        default=argparse.SUPPRESS,
        choices=METHODS.names(),
        help="training method (default: rest)",
    )
    types_by_section = field_types(TrainConfig)
    for section in dataclasses.fields(TrainConfig):
        section_type = types_by_section[section.name]
        if not dataclasses.is_dataclass(section_type):
            continue
        group = parser.add_argument_group(f"{section.name} options")
        hints = field_types(section_type)
        for field in dataclasses.fields(section_type):
            convert, is_bool = _parse_type(hints[field.name])
            help_text = field.metadata.get("help", "")
            if not help_text:
                raise AssertionError(f"config field {section.name}.{field.name} has no help text")
            default = field.default if field.default is not dataclasses.MISSING else None
            if default is not None:
                help_text += f" (default: {default})"
            kwargs: dict[str, Any] = {
                "dest": f"{section.name}.{field.name}",
                "default": argparse.SUPPRESS,
                "help": help_text.replace("%", "%%"),
            }
            if is_bool:
                kwargs["action"] = argparse.BooleanOptionalAction
            else:
                kwargs["type"] = convert
                kwargs["metavar"] = field.name.upper()
                # an optional field's None word (auto, none) is no choice: the config
                # check refuses anything else in one line that names the field
                if "choices" in field.metadata and not _is_optional(hints[field.name]):
                    kwargs["choices"] = list(field.metadata["choices"])
            group.add_argument(flag_name(field.name), **kwargs)


def config_from_args(args: argparse.Namespace, flags_must_apply: bool = False) -> TrainConfig:
    """Defaults, overridden by ``--config FILE``, overridden by explicit flags.

    ``flags_must_apply`` (``rest train``): a flag the method or its sparse strategy does
    not read is an error even at its default value, and so is a changed value in the
    file (a sweep applies each setting only where it is read instead).
    """
    values: dict[str, Any] = {}
    if getattr(args, "config", None):
        values = TrainConfig.from_file(args.config).to_dict()
    for dest, value in vars(args).items():
        if dest == "method":
            values["method"] = value
        elif "." in dest:
            section, name = dest.split(".", 1)
            values.setdefault(section, {})[name] = value
    try:
        config = TrainConfig.from_dict(values)
    except TypeError as error:
        raise RestError(f"invalid configuration: {error}") from None
    sparse_flags = sorted(
        flag_name(d.split(".", 1)[1]) for d in vars(args) if d.startswith("sparse.")
    )
    if sparse_flags and not METHODS.get(config.method).sparse:
        raise RestError(
            f"method {config.method!r} trains a dense network; {', '.join(sparse_flags)} "
            "apply to the sparse methods (sparse, rest)"
        )
    if flags_must_apply:
        given = [d for d in vars(args) if "." in d] + changed_fields(config)  # flags, file
        check_fields_read(config, given)
    return config
