"""``s2i COMMAND --help`` answers a new user's questions (issue 35, item 7): every argument has a help line,
no reStructuredText quotes, the data sets of ``prepare`` and the keys ``--set`` accepts are listed."""

import re

import pytest

from s2i.cli import build_parser
from s2i.sources import SOURCES

PARSER = build_parser()
COMMANDS = PARSER._subparsers._group_actions[0].choices  # type: ignore[union-attr]


def help_of(name: str, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "100")
    return COMMANDS[name].format_help()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_argument_has_help_and_no_rst_quotes(name, monkeypatch):
    missing = [a.option_strings or a.dest for a in COMMANDS[name]._actions if not a.help]
    assert missing == [], f"s2i {name}: arguments without help: {missing}"
    text = help_of(name, monkeypatch)
    assert "``" not in text
    assert not re.search(r"\b([A-Z_]+) \1\b", text), "a repeated metavar (e.g. RANGE_LO RANGE_LO)"


def test_top_level_help_has_the_verbose_flag_and_no_rst_quotes(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    text = PARSER.format_help()
    assert "-v, --verbose" in text and "``" not in text


def test_prepare_help_lists_every_data_set_with_its_description(monkeypatch):
    text = " ".join(help_of("prepare", monkeypatch).split())
    for name, src in SOURCES.items():
        assert f"{name}: {' '.join(src.description.split()[:4])}" in text, name


def test_encode_tuple_options_name_their_values(monkeypatch):
    text = help_of("encode", monkeypatch)
    assert "--range-lo X Y Z" in text and "--temporal-crop LO HI" in text


def test_eval_and_pretrain_help_list_the_keys_set_accepts(monkeypatch):
    text = help_of("eval", monkeypatch)
    assert "keys of --set KEY=VALUE" in text
    for key in ("linear.epochs=100", "knn.ks=[1, 10, 20]", "finetune.augment.rotate=0.0", "semi.fraction=0.1"):
        assert key in " ".join(text.split()), key
    text = " ".join(help_of("pretrain", monkeypatch).split())
    assert "optim.base_lr=0.00015" in text and "max_steps=None" in text
