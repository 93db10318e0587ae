"""Written by `assay dev` for its Python shell; not part of your plugin.

componentize-py runs your code once, while it builds, and keeps the result.
This module is built in its place, for the dev loop only: building it
imports your `app` (so the interpreter holds every module your code
imports), and the first call of each run imports your code again, fresh,
from /src, the project folder that `assay dev` grants read-only. An edit
then needs no rebuild. What your code imports beyond that needs one, so
build.sh rebuilds this shell when an import line changes.
"""

import os
import sys

import app as _built

_PROJECT = os.path.dirname(_built.__file__) + os.sep
_SOURCE = "/src"
_fresh = {}


def _plugin(kind):
    """The plugin object of `kind` (Evaluator or Guard) from the code in /src."""
    if kind not in _fresh and not os.path.isdir(_SOURCE):
        # Not granted (`assay inspect`): the code as it was built.
        _fresh[kind] = getattr(_built, kind)()
    if kind not in _fresh:
        sys.dont_write_bytecode = True
        for name, module in list(sys.modules.items()):
            if (getattr(module, "__file__", None) or "").startswith(_PROJECT):
                del sys.modules[name]
        if _SOURCE not in sys.path:
            sys.path.insert(0, _SOURCE)
        import app

        _fresh[kind] = getattr(app, kind)()
    return _fresh[kind]


class _Forward:
    def __getattr__(self, name):
        return getattr(_plugin(type(self).__name__), name)


class Evaluator(_Forward):
    pass


class Guard(_Forward):
    pass
