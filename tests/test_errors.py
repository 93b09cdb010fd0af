"""The exception tree lives in summariser.errors; the old import paths keep working."""

from __future__ import annotations

import inspect

from summariser import errors


def test_moved_errors_keep_their_bases_and_old_import_paths():
    from summariser.briefing import BriefingBusy
    from summariser.llm import ResponseFormatUnsupported

    assert BriefingBusy is errors.BriefingBusy and errors.BriefingBusy.__bases__ == (errors.SummariserError,)
    assert ResponseFormatUnsupported is errors.ResponseFormatUnsupported
    assert errors.ResponseFormatUnsupported.__bases__ == (errors.BadRequestError,)


def test_every_error_class_is_in_the_tree_and_in_the_module_docstring():
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    for cls in classes:
        assert issubclass(cls, errors.SummariserError), cls
        assert cls.__doc__ and cls.__name__ in errors.__doc__, cls
