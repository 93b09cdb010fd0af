"""The one name key (summariser/namekey.py) and the choice each caller makes."""

from __future__ import annotations

import pytest

from summariser import briefing, countries, names
from summariser.evaluate import normalise_name
from summariser.namekey import name_key


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("The United Nations", "united nations"),
        ("U.S.", "us"),
        ("D.C", "dc"),
        ("Obama's", "obama"),
        ("Jones’", "jones"),
        ("  Gérald  Darmanin ", "gerald darmanin"),
        ("Al-Qaeda", "al qaeda"),
        ("St.Louis", "stlouis"),  # a name: any dot between letters goes
        ("Obama's visit", "obama s visit"),  # a possessive goes only at the end of a name
        ("", ""),
    ],
)
def test_name_key_of_one_name(name, key):
    assert name_key(name) == key


def test_keep_accents_keeps_them_and_folds_typographic_marks():
    assert name_key("Gérald Darmanin", keep_accents=True) == "gérald darmanin"
    assert name_key("Obama`s", keep_accents=True) == "obama"  # grounding's normalise makes ` a '
    assert name_key("Obama`s") == "obama s"


def test_in_text_keys_a_whole_text_so_names_can_be_looked_up_in_it():
    text = name_key("Obama's visit to the U.S. ended.Then Mr. Biden's aides left", in_text=True)
    assert text == "obama visit to the us ended then mr biden aides left"
    assert name_key("St.Louis", in_text=True) == "st louis"  # only dotted acronyms lose their dots
    assert f" {name_key('Biden', in_text=True)} " in f" {text} "


def test_each_caller_keeps_its_choice():
    for name in ("Gérald Darmanin", "the U.S.'s", "Obama's visit", "St.Louis"):
        assert countries._key(name) == name_key(name)
        assert names._key(name) == name_key(name, keep_accents=True)
        assert normalise_name(name) == name_key(name, in_text=True)
    # The briefing's key is weaker on purpose (see its docstring): dots and inner punctuation stay.
    assert briefing.name_key("The U.S.") == "u.s" != name_key("The U.S.")
